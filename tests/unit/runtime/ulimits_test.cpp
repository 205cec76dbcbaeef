#include <catch2/catch.hpp>

#include "runtime/ulimits.hpp"
#include "util/error.hpp"

using kiln::runtime::parse_ulimit;
using kiln::runtime::Ulimit;

TEST_CASE("ulimits parse as go-units does: TYPE=SOFT[:HARD], -1 unlimited", "[runtime][ulimits]") {
    CHECK(parse_ulimit("nofile=1024:2048") == Ulimit{"nofile", 1024, 2048});
    CHECK(parse_ulimit("core=0") == Ulimit{"core", 0, 0});
    CHECK(parse_ulimit("memlock=-1") == Ulimit{"memlock", -1, -1});
    CHECK(parse_ulimit("stack=100:-1") == Ulimit{"stack", 100, -1});
}

TEST_CASE("bad ulimits are one-line errors", "[runtime][ulimits]") {
    CHECK_THROWS_WITH(parse_ulimit("nofile"), "invalid ulimit argument: nofile");
    CHECK_THROWS_WITH(parse_ulimit("files=1"), "invalid ulimit type: files");
    CHECK_THROWS_WITH(parse_ulimit("nofile=20:10"), "ulimit soft limit must be less than or equal to hard limit: 20 > 10");
    CHECK_THROWS_WITH(parse_ulimit("nofile=-1:10"), "ulimit soft limit must be less than or equal to hard limit: -1 > 10");
    CHECK_THROWS_AS(parse_ulimit("nofile=1:2:3"), kiln::Error);
    CHECK_THROWS_AS(parse_ulimit("nofile=0x10"), kiln::Error);
    CHECK_THROWS_AS(parse_ulimit("nofile=-2"), kiln::Error);
    CHECK_THROWS_AS(parse_ulimit("nofile="), kiln::Error);
}

TEST_CASE("a hard limit above this process's own is refused", "[runtime][ulimits]") {
    rlimit own{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &own) == 0);
    if (own.rlim_max == RLIM_INFINITY) return;  // nothing is above it
    auto above = static_cast<std::int64_t>(own.rlim_max) + 1;
    CHECK_THROWS_AS(kiln::runtime::to_rlimits({{"nofile", 1, above}}), kiln::Error);
    auto ok = kiln::runtime::to_rlimits({{"nofile", 1, 2}});
    REQUIRE(ok.size() == 1);
    CHECK(ok[0].resource == RLIMIT_NOFILE);
    CHECK(ok[0].limit.rlim_cur == 1);
    CHECK(ok[0].limit.rlim_max == 2);
}
