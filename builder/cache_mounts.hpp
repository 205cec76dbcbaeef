#pragma once
// RUN --mount=type=cache directories: <store>/cache-mounts/<sha256 of id>/ holds `data`
// (the first instance), `data.N` (more instances for sharing=private while others use it),
// a `lock` file per instance and `id` (the id, for `cache ls`). They live beside the layers,
// never in one, and persist until `kiln cache prune`.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "builder/run_mounts.hpp"
#include "util/fd.hpp"

namespace kiln::builder {

// One RUN's hold on a cache directory: shared and private take a shared or exclusive flock
// that a prune respects; locked waits for every other user (builds serialize on it).
class CacheMountLease {
public:
    // seed fills a new directory (from=, source=) before it is first used.
    CacheMountLease(const std::string& store_root, const RunMountSpec& spec,
                    const std::function<void(const std::string& dir)>& seed);
    const std::string& dir() const { return dir_; }

private:
    UniqueFd lock_;
    std::string dir_;
};

struct CacheMountInfo {
    std::string key;   // "sha256:<hex of the id>"
    std::string id;
    std::uint64_t size = 0;
    std::int64_t created = 0, last_used = 0;
    bool in_use = false;  // a build holds it now
};

std::vector<CacheMountInfo> list_cache_mounts(const std::string& store_root);
// Removes the cache directory of key unless a build holds it; false when it does.
bool remove_cache_mount(const std::string& store_root, const std::string& key);

}  // namespace kiln::builder
