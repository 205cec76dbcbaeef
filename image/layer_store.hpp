#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "image/layer_tar.hpp"
#include "image/mount_spec.hpp"
#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::image {

class MetadataDb;
class StagingDir;
struct LayerRow;

// An immutable, unpacked layer: layers/<chainid>/diff, usable directly as an overlay lowerdir.
struct LayerInfo {
    Digest chain_id;
    Digest diff_id;        // sha256 of the layer's canonical uncompressed tar stream
    std::optional<Digest> parent;  // parent chain ID
    std::uint64_t size = 0;        // bytes of the uncompressed tar stream
    std::string diff_dir;          // absolute path of layers/<chainid>/diff
};

// A layer unpacked into the store's tmp/ but not part of the store yet (no row, no
// layers/ dir): a load stages every layer of an archive and publishes them only once all
// are verified. Dropping it removes the files.
struct StagedLayer {
    Digest diff_id;
    std::uint64_t size = 0;  // bytes of the uncompressed tar stream
    std::shared_ptr<StagingDir> stage;
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
//
// Snapshots are owned by the LayerStore object (the process) that prepared them: it holds
// a flock on snapshots/<key> until commit() or remove(). When it dies without either (a
// crash, kill -9), the next Store open deletes the leftover. Something that must outlive
// the process (a detached container) keeps its own upper/work dirs and mounts them with
// overlay().
class LayerStore {
public:
    LayerStore(std::string root, MetadataDb& db);
    ~LayerStore();
    LayerStore(const LayerStore&) = delete;
    LayerStore& operator=(const LayerStore&) = delete;

    // A writable overlay: upper dir over the parent's chain (or over nothing).
    // key: [A-Za-z0-9_.-]{1,128}, not starting with '.'; it must not name an existing
    // snapshot. parent must be a committed layer.
    Snapshot prepare(const std::string& key, const std::optional<Digest>& parent);
    // A snapshot that outlives this process (a container's writable layer, kept until
    // `rm`): never locked, never swept by cleanup(); only remove(key) drops it.
    Snapshot prepare_kept(const std::string& key, const std::optional<Digest>& parent);
    // The snapshot of `key` as prepare returned it (for a kept one, in a later process).
    Snapshot existing(const std::string& key) const;
    // A read-only mount of the parent's chain.
    MountSpec view(const std::optional<Digest>& parent) const;
    // A read-only mount of snapshot `key` as it is now. Its upper dir becomes the topmost
    // lower (overlayfs honours whiteouts and opaque dirs in lowers), so it can be mounted
    // while a running container has that upper dir mounted as its upperdir.
    MountSpec snapshot_view(const std::string& key) const;
    // Tars the snapshot's upper dir in one streaming pass (overlay whiteouts → OCI .wh.),
    // records the diffID, and moves the upper dir itself to layers/<chainid>/diff.
    // If that chain already exists, the snapshot is dropped and the existing layer returned.
    LayerInfo commit(const std::string& key);
    void remove(const std::string& key);  // drops an uncommitted snapshot

    // Imports a layer tar (plain or compressed, read from fd) on top of parent.
    LayerInfo apply_tar(int fd, const std::optional<Digest>& parent);
    // Unpacks a layer tar (plain or compressed) from source into tmp/ through the safe
    // extractor; tar_bytes sees the uncompressed stream. Nothing enters the store yet.
    StagedLayer stage_tar(const ByteSource& source, const ByteSink& tar_bytes = {});
    // Makes a staged layer part of the store on top of parent (a no-op returning the
    // existing layer if its chain is there already).
    LayerInfo publish(StagedLayer& staged, const std::optional<Digest>& parent);

    // Whether the layer's files are known to tar (write_layer_tar, kCanonicalTarFormat) to
    // exactly the bytes its diffID names: true for layers this store committed, and for
    // others once a full regeneration matched. Lets a save skip hashing them again.
    bool tar_reproducible(const LayerInfo& layer) const;
    void mark_tar_reproducible(const LayerInfo& layer);

    std::optional<LayerInfo> get(const Digest& chain_id) const;
    // The chain bottom first, ending with chain_id.
    std::vector<LayerInfo> chain(const Digest& chain_id) const;
    // Deletes a layer that no image, snapshot, lease (MetadataDb::lease_add) or child layer
    // uses. Returns false if in use.
    bool remove_layer(const Digest& chain_id);
    std::vector<LayerInfo> walk() const;

    // Overlay mount of upper_dir/work_dir (absolute, on the store's filesystem) over the
    // parent's chain: what prepare() returns, for callers that own their upper dir.
    MountSpec overlay(const std::optional<Digest>& parent, const std::string& upper_dir,
                      const std::string& work_dir) const;
    // Removes chain_id and then its ancestors, top down, for as long as each is unused by
    // images, children, snapshots and "layer" build-cache entries. Returns what was removed.
    std::vector<Digest> release_chain(const Digest& chain_id);
    // Removes every layer not reachable from an image, a snapshot, a lease or a "layer"
    // build-cache entry, and committed at least min_age_seconds ago (so a concurrent build's fresh,
    // not yet referenced layer survives). Returns what was removed.
    std::vector<Digest> gc(long min_age_seconds = 600);
    // Snapshot keys present now (of any process).
    std::vector<std::string> snapshots() const;
    // Removes leftovers of crashed processes (unlocked snapshots, dangling l/ links).
    // Called by Store on open.
    void cleanup();

    const std::string& root() const { return root_; }

private:
    LayerInfo info(const LayerRow& row) const;
    LayerInfo install(const std::string& diff_src, const Digest& diff_id, std::uint64_t size,
                      const std::optional<Digest>& parent);
    LayerInfo record(const LayerRow& row);
    LayerInfo adopt(const Digest& chain, const Digest& diff_id, std::uint64_t size,
                    const std::optional<Digest>& parent);
    std::vector<LayerRow> rows_top_first(const Digest& chain_id) const;
    std::string lower_dirs(const std::optional<Digest>& parent) const;
    bool snapshot_uses(const Digest& chain_id) const;
    std::string new_short_link(const std::string& target);
    Snapshot create_snapshot(const std::string& key, const std::optional<Digest>& parent, bool kept);

    std::string root_;
    MetadataDb& db_;
    mutable std::mutex mutex_;
    std::map<std::string, UniqueFd> snapshot_locks_;  // key -> flock on snapshots/<key>
};

// ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
Digest chain_id(const std::optional<Digest>& parent_chain, const Digest& diff_id);

}  // namespace kiln::image
