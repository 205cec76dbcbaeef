#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "image/mount_spec.hpp"
#include "util/digest.hpp"

namespace kiln::image {

class MetadataDb;

// An immutable, unpacked layer: layers/<chainid>/diff, usable directly as an overlay lowerdir.
struct LayerInfo {
    Digest chain_id;
    Digest diff_id;        // sha256 of the layer's canonical uncompressed tar stream
    std::optional<Digest> parent;  // parent chain ID
    std::uint64_t size = 0;        // bytes of the uncompressed tar stream
    std::string diff_dir;          // absolute path of layers/<chainid>/diff
};

// A writable snapshot being prepared: write into upper_dir directly (COPY) or mount `mount`
// and run a container over it (RUN). Lives in snapshots/<key>/ until commit or remove.
struct Snapshot {
    std::string key;
    std::optional<Digest> parent;  // chain ID of the top layer below it
    std::string upper_dir;
    MountSpec mount;
};

// The layer stack (containerd's snapshotter shape). The builder and the runtime reach
// layers only through this interface.
class LayerStore {
public:
    LayerStore(std::string root, MetadataDb& db);

    // A writable overlay: upper dir over the parent's chain (or over nothing).
    Snapshot prepare(const std::string& key, const std::optional<Digest>& parent);
    // A read-only mount of the parent's chain.
    MountSpec view(const std::optional<Digest>& parent) const;
    // Tars the snapshot's upper dir in one streaming pass (overlay whiteouts → OCI .wh.),
    // records the diffID, and moves the upper dir itself to layers/<chainid>/diff.
    // If that chain already exists, the snapshot is dropped and the existing layer returned.
    LayerInfo commit(const std::string& key);
    void remove(const std::string& key);  // drops an uncommitted snapshot

    // Imports a layer tar (plain or compressed, read from fd) on top of parent.
    LayerInfo apply_tar(int fd, const std::optional<Digest>& parent);

    std::optional<LayerInfo> get(const Digest& chain_id) const;
    // The chain bottom first, ending with chain_id.
    std::vector<LayerInfo> chain(const Digest& chain_id) const;
    // Deletes a layer that no image, snapshot or child layer uses. Returns false if in use.
    bool remove_layer(const Digest& chain_id);
    std::vector<LayerInfo> walk() const;

private:
    std::string root_;
    MetadataDb& db_;
};

// ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
Digest chain_id(const std::optional<Digest>& parent_chain, const Digest& diff_id);

}  // namespace kiln::image
