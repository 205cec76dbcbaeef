#pragma once
// The build cache as `kiln cache ls/du/prune` and `system df` show it: one record per built
// step, what it holds, who still needs it, and which records a prune takes.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/metadata_db.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

struct CacheRecord {
    std::string key;                  // the step's cache key ("sha256:…")
    std::string step;                 // the instruction that made it
    std::optional<Digest> config;     // the image config the step produced
    std::optional<Digest> layer;      // the layer it made (chain ID); none for metadata steps
    std::optional<Digest> top_chain;  // the stage's top layer after the step
    std::uint64_t size = 0;           // bytes of the layer it made
    std::int64_t created = 0;
    std::int64_t last_used = 0;
    std::int64_t hits = 0;
    bool in_use = false;          // a tagged image or a leased chain (a build, a container) needs it
    bool used_by_image = false;   // some image, a dangling one too, has its chain
    bool cache_mount = false;     // a RUN --mount=type=cache directory (BuildKit's exec.cachemount)

    std::string short_id() const;  // 12 hex characters of the key
};

// One record per step from the raw rows (a step keeps "<key>" → config and, when it made a
// layer, "<key>/layer" → chain ID). Newest use first.
std::vector<CacheRecord> group_cache_entries(const std::vector<image::CacheEntry>& entries);

// Sets in_use and used_by_image from the chains that tagged images or leases hold (with all
// their ancestors) and the chains of every image.
void mark_usage(std::vector<CacheRecord>& records, const std::set<Digest>& protected_chains,
                const std::set<Digest>& image_chains);

struct CachePrunePolicy {
    bool all = false;  // also what only dangling images still hold
    std::optional<std::int64_t> unused_since;   // only records last used before this unix time
    std::optional<std::uint64_t> keep_storage;  // stop once the cache is no larger than this
};

// Indices of the records a prune removes, least recently used first. A record in use is
// never chosen; without `all`, neither is one that any image still has.
std::vector<std::size_t> select_cache_prune(const std::vector<CacheRecord>& records, const CachePrunePolicy& policy);

// The store's records with their usage marked.
std::vector<CacheRecord> cache_records(image::Store& store);

struct CachePruneResult {
    std::vector<CacheRecord> removed;
    std::uint64_t reclaimed = 0;  // bytes of layers and configs actually deleted
};
CachePruneResult prune_cache(image::Store& store, const CachePrunePolicy& policy);

}  // namespace kiln::builder
