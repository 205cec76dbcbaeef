#pragma once
// One layer blob from a registry into the store's staging, in one pass: the bytes are kept as
// the compressed blob and unpacked by the safe extractor while they arrive. Nothing becomes
// part of the store here; the pull publishes everything once every layer is verified.
#include <atomic>
#include <cstdint>
#include <optional>

#include "image/content_store.hpp"
#include "image/layer_store.hpp"
#include "image/oci.hpp"
#include "registry/client.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::registry {

struct FetchedLayer {
    image::StagedLayer layer;         // unpacked; its diff_id is what the tar hashed to
    image::ContentStore::Writer blob;  // the compressed blob, verified, not yet committed (commit(blob_digest))
    Digest blob_digest;
    std::uint64_t blob_size = 0;
};

// Downloads descriptor's blob (size and digest checked by the client while it streams) and
// unpacks it. cancel: another layer failed; the transfer stops at its next chunk. Throws
// kiln::Error naming the layer; whatever was staged is removed.
FetchedLayer fetch_layer(Repository& repo, image::Store& store, const image::Descriptor& descriptor,
                         const Progress& progress, const std::atomic<bool>& cancel);

}  // namespace kiln::registry
