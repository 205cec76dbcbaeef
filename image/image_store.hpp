#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {

class MetadataDb;
class ContentStore;
class LayerStore;

struct ImageSummary {
    Digest id;                       // = config digest
    std::vector<std::string> names;  // full normalized references, sorted; empty if dangling
    std::int64_t created = 0;        // unix seconds, from the config's "created"
    std::uint64_t size = 0;          // sum of the layers' uncompressed sizes
    std::optional<Digest> top_chain_id;
};

// Images (config blob + layer chain) and their names.
class ImageStore {
public:
    ImageStore(MetadataDb& db, ContentStore& content, LayerStore& layers);

    // Stores an image config (OCI/Docker JSON) and records the image. Its
    // rootfs.diff_ids must name a chain of layers already in the layer store. Returns the
    // image id (the config's digest). Storing the same config again is a no-op.
    Digest put_image(const std::string& config_json);

    // name: a full normalized reference (parse_reference(x).str()), e.g.
    // "docker.io/library/busybox:latest". Moves the name if it named another image.
    void tag(const std::string& name, const Digest& image_id);
    bool untag(const std::string& name);  // false if the name did not exist

    // A name (exactly as stored, a "repo@sha256:…" RepoDigest a pull recorded, or anything parse_reference() normalizes to a stored
    // name: "busybox" finds "docker.io/library/busybox:latest"), an image id ("sha256:<hex>" or bare hex), or a unique id prefix of at
    // least 4 hex characters (with or without "sha256:"). Throws kiln::Error when a prefix
    // matches more than one image.
    std::optional<Digest> resolve(const std::string& ref_or_id) const;

    std::vector<ImageSummary> list() const;  // newest first
    std::optional<ImageSummary> get(const Digest& image_id) const;
    std::string config(const Digest& image_id) const;  // throws if unknown

    // docker rmi: by name, untags it (and deletes the image once it has no name left); by
    // id, deletes the image (an image with several names needs force). Then removes the
    // image's layers that nothing else uses. Returns docker's "Untagged: …"/"Deleted: …"
    // lines (names in docker's familiar form, "busybox:latest"). Throws kiln::Error for an unknown reference or a refused delete.
    std::vector<std::string> remove(const std::string& ref, bool force = false);

private:
    std::optional<std::string> stored_name(const std::string& ref) const;
    // The image a "repo@sha256:…" reference names through its recorded repo digest.
    std::optional<Digest> by_repo_digest(const std::string& ref) const;

    MetadataDb& db_;
    ContentStore& content_;
    LayerStore& layers_;
};

// RFC 3339 time ("2024-01-02T03:04:05.5Z", "…+02:00") to unix seconds; nullopt if malformed.
std::optional<std::int64_t> parse_rfc3339(const std::string& text);

}  // namespace kiln::image
