#pragma once
// `image prune`: removing chosen images and then what nothing references any more, counting
// the bytes it gives back.
#include <cstdint>
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {

class Store;

struct ImagePruneReport {
    std::vector<std::string> lines;  // docker's "untagged: …" / "deleted: sha256:…"
    std::uint64_t reclaimed = 0;     // bytes of layers, configs and blobs deleted
};

// Removes each image (with all its names), then layers nothing uses that were committed
// at least min_layer_age seconds ago (younger ones may belong to a build in flight), then
// compressed blobs of layers that are gone.
ImagePruneReport prune_images(Store& store, const std::vector<Digest>& images, long min_layer_age = 600);

}  // namespace kiln::image
