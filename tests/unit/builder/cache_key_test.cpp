#include <catch2/catch.hpp>

#include "builder/cache_key.hpp"

using kiln::builder::cache_key;
using kiln::builder::CacheKeyInput;

TEST_CASE("cache keys depend on every input and nothing else", "[builder][cache]") {
    CacheKeyInput base{kiln::sha256_of("parent"), "RUN [\"/bin/sh\",\"-c\",\"true\"]", {{"A", "1"}},
                       "linux/amd64", std::nullopt};
    auto key = cache_key(base);
    CHECK(cache_key(base) == key);

    auto changed = base;
    changed.parent = kiln::sha256_of("other");
    CHECK(cache_key(changed) != key);
    changed = base;
    changed.parent.reset();
    CHECK(cache_key(changed) != key);
    changed = base;
    changed.instruction += " ";
    CHECK(cache_key(changed) != key);
    changed = base;
    changed.build_args["A"] = "2";
    CHECK(cache_key(changed) != key);
    changed = base;
    changed.build_args["B"] = "1";
    CHECK(cache_key(changed) != key);
    changed = base;
    changed.platform = "linux/arm64";
    CHECK(cache_key(changed) != key);
    changed = base;
    changed.sources = kiln::sha256_of("files");
    CHECK(cache_key(changed) != key);
}

TEST_CASE("cache key fields cannot bleed into each other", "[builder][cache]") {
    CacheKeyInput a{std::nullopt, "RUN a", {{"X", "1Y"}}, "p", std::nullopt};
    CacheKeyInput b{std::nullopt, "RUN a", {{"X", "1"}, {"Y", ""}}, "p", std::nullopt};
    CHECK(cache_key(a) != cache_key(b));
    CacheKeyInput c{std::nullopt, "RUN ab", {}, "", std::nullopt};
    CacheKeyInput d{std::nullopt, "RUN a", {}, "b", std::nullopt};
    CHECK(cache_key(c) != cache_key(d));
}
