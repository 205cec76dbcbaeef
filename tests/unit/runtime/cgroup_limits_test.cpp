#include <catch2/catch.hpp>

#include "runtime/cgroups.hpp"
#include "util/error.hpp"

using kiln::runtime::CgroupLimits;
using kiln::runtime::cpu_weight_for_shares;
using kiln::runtime::validate_limits;

TEST_CASE("cpu shares map onto cgroup2 weights as the OCI runtimes map them", "[runtime][cgroups]") {
    CHECK(cpu_weight_for_shares(0) == 0);  // unset: the kernel's default weight stays
    CHECK(cpu_weight_for_shares(2) == 1);
    CHECK(cpu_weight_for_shares(1024) == 39);
    CHECK(cpu_weight_for_shares(512) == 20);
    CHECK(cpu_weight_for_shares(262144) == 10000);
    // Clamped first, as the v1 kernel clamps cpu.shares.
    CHECK(cpu_weight_for_shares(1) == 1);
    CHECK(cpu_weight_for_shares(1 << 30) == 10000);
}

TEST_CASE("limits Docker refuses are refused with Docker's words", "[runtime][cgroups]") {
    const std::int64_t mib = 1 << 20;
    auto limits = [](std::int64_t memory, std::int64_t swap, std::int64_t reservation) {
        CgroupLimits l;
        l.memory_bytes = memory;
        l.memory_swap = swap;
        l.memory_reservation = reservation;
        return l;
    };
    CHECK_NOTHROW(validate_limits(limits(32 * mib, 64 * mib, 16 * mib)));
    CHECK_NOTHROW(validate_limits(limits(32 * mib, 32 * mib, 32 * mib)));
    CHECK_NOTHROW(validate_limits(limits(32 * mib, -1, 0)));
    CHECK_NOTHROW(validate_limits(limits(0, -1, 16 * mib)));
    CHECK_THROWS_WITH(validate_limits(limits(0, 64 * mib, 0)),
                      "You should always set the Memory limit when using Memoryswap limit, see usage");
    CHECK_THROWS_WITH(validate_limits(limits(32 * mib, 16 * mib, 0)),
                      "Minimum memoryswap limit should be larger than memory limit, see usage");
    CHECK_THROWS_WITH(validate_limits(limits(0, 0, mib)), "Minimum memory reservation allowed is 6MB");
    CHECK_THROWS_WITH(validate_limits(limits(32 * mib, 0, 64 * mib)),
                      "Minimum memory limit can not be less than memory reservation limit, see usage");
    CgroupLimits shares;
    shares.cpu_shares = -1;
    CHECK_THROWS_AS(validate_limits(shares), kiln::Error);
}
