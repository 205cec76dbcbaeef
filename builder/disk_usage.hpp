#pragma once
// `system df`: how much of the store images and the build cache take, and how much of it
// could go.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "builder/cache_report.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

struct ImageStack {
    Digest id;
    std::vector<std::string> names;
    std::int64_t created = 0;
    std::vector<Digest> chains;  // the image's layers
};

struct ImageSpace {
    Digest id;
    std::vector<std::string> names;
    std::int64_t created = 0;
    std::uint64_t size = 0;    // all its layers
    std::uint64_t shared = 0;  // layers another image has too
    std::uint64_t unique = 0;  // size - shared
};

struct DiskUsage {
    std::vector<ImageSpace> images;
    std::uint64_t images_size = 0;  // each layer of any image counted once
    std::vector<CacheRecord> cache;
};

// Shared and unique sizes as docker's `system df -v` shows them.
std::vector<ImageSpace> image_space(const std::vector<ImageStack>& stacks,
                                    const std::map<Digest, std::uint64_t>& layer_sizes);
// Bytes of the distinct layers of all stacks.
std::uint64_t distinct_layer_bytes(const std::vector<ImageStack>& stacks,
                                   const std::map<Digest, std::uint64_t>& layer_sizes);

DiskUsage disk_usage(image::Store& store);

}  // namespace kiln::builder
