#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "image/content_store.hpp"
#include "image/layer_store.hpp"
#include "image/layer_tar.hpp"
#include "util/digest.hpp"

namespace kiln::image {

class Store;

// Layer blobs kept beside the unpacked layers they belong to: files in blobs/sha256 with a
// row in the `blobs` table naming the layer's diffID and the blob's media type (which says
// its compression). Save and push compress a layer once and reuse the blob afterwards; a
// loaded or imported layer keeps its exact tar, so it leaves the store byte for byte even
// when kiln's own tar writer would have written it differently.

struct LayerBlob {
    std::string media_type;
    Digest digest;
    std::uint64_t size = 0;
};

// The OCI media type of a layer blob compressed with c.
std::string layer_media_type(Compression c);

// The kept blob of diff_id in compression c, when its row and file both exist.
std::optional<LayerBlob> find_layer_blob(Store& store, const Digest& diff_id, Compression c);

// A kept compressed blob of diff_id in any compression (gzip first, then zstd), whatever
// media type flavour it was recorded under (a pulled Docker-schema2 layer says
// vnd.docker…tar.gzip); the returned media type is the OCI one for the same bytes. This is
// how a pulled layer leaves again as the very blob it came in as.
std::optional<LayerBlob> find_kept_compressed_blob(Store& store, const Digest& diff_id);

// The blob of layer in compression c: the kept one, or made now from the layer's exact tar
// stream, stored and recorded so the next caller finds it. For Compression::None nothing is
// stored: the blob is the tar itself (digest = diffID).
LayerBlob ensure_layer_blob(Store& store, const LayerInfo& layer, Compression c);

// Streams the layer's exact uncompressed tar (the bytes its diffID names) into sink: the
// kept tar blob if there is one, else the layer's files tarred again. Throws kiln::Error
// naming the layer when the bytes do not match its diffID.
TarStats stream_layer_tar(Store& store, const LayerInfo& layer, const ByteSink& sink);

// Streams a stored blob's bytes into sink, checking them against its digest on the way.
TarStats stream_blob(Store& store, const Digest& digest, const ByteSink& sink);

// Records a blob already in the content store as the form `compression` of diff_id.
void record_layer_blob(Store& store, const Digest& diff_id, const LayerBlob& blob);

// A layer unpacked into tmp/ together with a staged copy of its exact tar: what import and
// load hold until everything is verified. Dropping it leaves the store untouched.
struct StagedLayerWithTar {
    StagedLayer layer;
    ContentStore::Writer tar;
};
StagedLayerWithTar stage_layer_keeping_tar(Store& store, const ByteSource& source);
// Publishes the layer on top of parent and its tar blob beside it.
LayerInfo publish_layer_keeping_tar(Store& store, StagedLayerWithTar& staged, const std::optional<Digest>& parent);

}  // namespace kiln::image
