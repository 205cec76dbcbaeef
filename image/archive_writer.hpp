#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "image/archive_output.hpp"
#include "image/layer_store.hpp"
#include "image/layer_tar.hpp"
#include "image/oci.hpp"

namespace kiln::image {

class Store;

enum class ArchiveFormat {
    // Docker 25+'s `docker save`: manifest.json + repositories for Docker/Podman readers
    // and an OCI layout (index.json, oci-layout, blobs/sha256) for OCI readers, in one tar.
    DockerArchive,
    OciArchive,  // an OCI image layout in a tar
    OciDir,      // an OCI image layout as a directory
};

struct SaveOptions {
    ArchiveFormat format = ArchiveFormat::DockerArchive;
    // Layer blob compression. Unset: Docker's choice for docker-archive (uncompressed
    // layers named by diffID, as Docker 25+ writes them) and gzip for the OCI formats.
    std::optional<Compression> compression;
    std::int64_t mtime = 0;  // every tar header's mtime (SOURCE_DATE_EPOCH, else 0)
};

// One image of an archive: its manifest as written, and the names it was saved under.
struct SavedImage {
    Digest id;  // config digest
    Digest manifest_digest;
    std::vector<std::string> names;  // full normalized references; empty when saved by id
};

// The layout part of an export that a registry push reuses too: the manifest of a stored
// image with every layer blob made (compressed once and kept) and the config bytes.
struct ManifestPlan {
    Digest image_id;
    std::string config;
    Manifest manifest;
    std::string manifest_json;  // serialize(manifest): the bytes its digest names
    std::vector<LayerInfo> layers;  // bottom first, matching manifest.layers
    // With make_blobs off: the manifest layers whose blob the store does not keep yet. Their
    // descriptors have the media type only, and manifest_json is empty.
    std::vector<std::size_t> unmade;
};
// Which layer blob a plan takes: exactly the asked compression (made now if need be), or
// any compressed blob the store keeps for the layer (a pulled layer's original bytes), the
// asked compression only for layers that have none.
enum class BlobChoice { Exact, PreferKept };
// make_blobs: compress the layers that have no such blob now (kept for later); off leaves
// them to the caller (a push that compresses while it uploads), listed in `unmade`.
ManifestPlan plan_manifest(Store& store, const Digest& image_id, Compression compression,
                           BlobChoice choice = BlobChoice::Exact, bool make_blobs = true);

// Writes the images named by refs (names as a user types them, or image ids) to out,
// each blob once. Throws kiln::Error naming the first unknown image before anything is
// written.
std::vector<SavedImage> save_images(Store& store, const std::vector<std::string>& refs,
                                    const SaveOptions& options, ArchiveOutput& out);

}  // namespace kiln::image
