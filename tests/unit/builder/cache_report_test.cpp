#include <catch2/catch.hpp>

#include "builder/cache_report.hpp"
#include "builder/disk_usage.hpp"

using namespace kiln;
using namespace kiln::builder;

namespace {

image::CacheEntry entry(std::string key, std::string kind, std::string result, std::int64_t used, std::int64_t hits = 0,
                        std::string step = "") {
    return image::CacheEntry{std::move(key), std::move(kind), std::move(result), 100, used, hits, std::move(step)};
}

CacheRecord record(const std::string& seed, std::uint64_t size, std::int64_t last_used, bool in_use, bool used_by_image) {
    CacheRecord r;
    r.key = sha256_of(seed).str();
    r.size = size;
    r.last_used = last_used;
    r.in_use = in_use;
    r.used_by_image = used_by_image;
    return r;
}

}  // namespace

TEST_CASE("cache rows group into one record per step", "[builder][cache]") {
    const Digest config = sha256_of("config");
    const Digest layer = sha256_of("layer");
    const std::string key = sha256_of("step").str();
    auto records = group_cache_entries({
        entry(key, "config", config.str() + " inherited-cmd", 500, 3, "RUN make"),
        entry(key + "/layer", "layer", layer.str(), 400, 3, "RUN make"),
        entry(sha256_of("env").str(), "config", sha256_of("config2").str(), 900, 0, "ENV A=1"),
    });
    REQUIRE(records.size() == 2);
    CHECK(records[0].step == "ENV A=1");  // most recently used first
    CHECK_FALSE(records[0].layer);
    const auto& run = records[1];
    CHECK(run.key == key);
    CHECK(run.config == config);
    CHECK(run.layer == layer);
    CHECK(run.top_chain == layer);
    CHECK(run.hits == 3);
    CHECK(run.last_used == 500);
    CHECK(run.short_id() == key.substr(7, 12));
}

TEST_CASE("usage marks what tagged images, leases and other images hold", "[builder][cache]") {
    const Digest tagged = sha256_of("tagged"), dangling = sha256_of("dangling"), loose = sha256_of("loose");
    std::vector<CacheRecord> records(4);
    records[0].top_chain = tagged;
    records[1].top_chain = dangling;
    records[2].top_chain = loose;
    mark_usage(records, {tagged}, {tagged, dangling});
    CHECK(records[0].in_use);
    CHECK_FALSE(records[1].in_use);
    CHECK(records[1].used_by_image);
    CHECK_FALSE(records[2].used_by_image);
    CHECK_FALSE(records[3].in_use);  // FROM scratch metadata: no chain at all
}

TEST_CASE("cache prune never takes what is in use, and takes the least recently used first", "[builder][prune]") {
    std::vector<CacheRecord> records{record("tagged", 500, 10, true, true), record("dangling-image", 300, 20, false, true),
                                     record("old", 200, 30, false, false), record("new", 100, 40, false, false)};
    CachePrunePolicy dangling_only;
    CHECK(select_cache_prune(records, dangling_only) == std::vector<std::size_t>{2, 3});
    CachePrunePolicy all;
    all.all = true;
    CHECK(select_cache_prune(records, all) == std::vector<std::size_t>{1, 2, 3});
    CachePrunePolicy old_only;
    old_only.unused_since = 35;
    CHECK(select_cache_prune(records, old_only) == std::vector<std::size_t>{2});
    CachePrunePolicy keep;
    keep.all = true;
    keep.keep_storage = 700;  // 1100 in all: removing the two oldest candidates gets it to 600
    CHECK(select_cache_prune(records, keep) == std::vector<std::size_t>{1, 2});
    keep.keep_storage = 10000;
    CHECK(select_cache_prune(records, keep).empty());
}

TEST_CASE("image space splits shared layers from unique ones", "[builder][df]") {
    const Digest base = sha256_of("base"), a = sha256_of("a"), b = sha256_of("b");
    std::map<Digest, std::uint64_t> sizes{{base, 1000}, {a, 10}, {b, 20}};
    std::vector<ImageStack> stacks{{sha256_of("img-a"), {"x:1"}, 1, {a, base}},
                                   {sha256_of("img-b"), {}, 2, {b, base}},
                                   {sha256_of("img-base"), {"base"}, 0, {base}}};
    auto space = image_space(stacks, sizes);
    CHECK(space[0].size == 1010);
    CHECK(space[0].shared == 1000);
    CHECK(space[0].unique == 10);
    CHECK(space[2].unique == 0);
    CHECK(distinct_layer_bytes(stacks, sizes) == 1030);
}
