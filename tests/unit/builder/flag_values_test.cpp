#include <catch2/catch.hpp>

#include "builder/flag_values.hpp"
#include "util/error.hpp"

using kiln::builder::parse_cpus;
using kiln::builder::parse_memory_size;
using kiln::builder::parse_pids_limit;

TEST_CASE("memory sizes use docker's binary units", "[builder][flags]") {
    CHECK(parse_memory_size("1024") == 1024);
    CHECK(parse_memory_size("512m") == 512LL << 20);
    CHECK(parse_memory_size("1G") == 1LL << 30);
    CHECK(parse_memory_size("2kb") == 2048);
    CHECK(parse_memory_size("2KiB") == 2048);
    CHECK(parse_memory_size("3 m") == 3LL << 20);
    CHECK(parse_memory_size("1.5g") == 3LL << 29);
    CHECK(parse_memory_size("1b") == 1);
    CHECK(parse_memory_size("1p") == 1LL << 50);
    // go-units takes these too: a unit with only its "i", and a space with no unit.
    CHECK(parse_memory_size("1ki") == 1024);
    CHECK(parse_memory_size("10 ") == 10);
}

TEST_CASE("memory sizes refuse what docker refuses", "[builder][flags]") {
    for (const char* bad : {"lots", "5x", "-1m", "", "nan", "inf", "NaNm", "0x10m", "0x10", "1e3", "1.", ".5g",
                            "1.2.3m", "10mm", " 10", "10m ", "10  m", "+5m", "99999999999g"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_memory_size(bad), kiln::Error);
    }
    CHECK_THROWS_WITH(parse_memory_size("0x10m"),
                      Catch::Contains("invalid argument \"0x10m\" for \"--memory\" flag"));
}

TEST_CASE("cpus take a decimal number within the machine", "[builder][flags]") {
    CHECK(parse_cpus("1.5", 2) == 1.5);
    CHECK(parse_cpus("2", 2) == 2);
    CHECK(parse_cpus("0", 2) == 0);
    CHECK(parse_cpus("0.01", 2) == 0.01);
    for (const char* bad : {"nan", "inf", "-1", "0x1", "1e0", "", "1.5x", " 1", "1/2"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_cpus(bad, 2), kiln::Error);
    }
    CHECK_THROWS_WITH(parse_cpus("3", 2), "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
    CHECK_THROWS_AS(parse_cpus("0.001", 2), kiln::Error);
}

TEST_CASE("pids limits take a decimal integer where 0 and -1 mean none", "[builder][flags]") {
    CHECK(parse_pids_limit("20") == 20);
    CHECK(parse_pids_limit("0") == 0);
    CHECK(parse_pids_limit("-1") == 0);
    for (const char* bad : {"0x10", "010x", "1e3", "", "+5", "-2", "5 ", "nan", "99999999999999999999"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_pids_limit(bad), kiln::Error);
    }
}

TEST_CASE("memory swap is a size or -1 for unlimited", "[builder][flags]") {
    CHECK(kiln::builder::parse_memory_swap("-1") == -1);
    CHECK(kiln::builder::parse_memory_swap("64m") == 64LL << 20);
    for (const char* bad : {"-2", "-1m", "", "nan", "0x10m", "1e3"}) {
        INFO(bad);
        CHECK_THROWS_AS(kiln::builder::parse_memory_swap(bad), kiln::Error);
    }
    CHECK_THROWS_WITH(kiln::builder::parse_memory_swap("-2"), Catch::Contains("for \"--memory-swap\" flag"));
}

TEST_CASE("cpu shares take a decimal integer, negatives refused", "[builder][flags]") {
    CHECK(kiln::builder::parse_cpu_shares("512") == 512);
    CHECK(kiln::builder::parse_cpu_shares("0") == 0);
    CHECK(kiln::builder::parse_cpu_shares("-0") == 0);
    CHECK_THROWS_WITH(kiln::builder::parse_cpu_shares("-5"), Catch::Contains("CPU shares must be a positive integer"));
    for (const char* bad : {"", "0x10", "1e3", "+5", "5 ", " 5", "nan", "99999999999999999999", "--5"}) {
        INFO(bad);
        CHECK_THROWS_AS(kiln::builder::parse_cpu_shares(bad), kiln::Error);
    }
}

TEST_CASE("cpuset cpus are kernel cpu lists within the online CPUs", "[builder][flags]") {
    using kiln::builder::parse_cpuset_cpus;
    CHECK(parse_cpuset_cpus("0-1", "0-3\n") == "0-1");
    CHECK(parse_cpuset_cpus("0,1", "0-1") == "0,1");
    CHECK(parse_cpuset_cpus("1,3-5", "0-7") == "1,3-5");
    CHECK(parse_cpuset_cpus("", "0-1").empty());
    CHECK_THROWS_WITH(parse_cpuset_cpus("2", "0-1\n"), "Requested CPUs are not available - requested 2, available: 0-1");
    CHECK_THROWS_WITH(parse_cpuset_cpus("1", "0,2-3"), "Requested CPUs are not available - requested 1, available: 0,2-3");
    for (const char* bad : {"1-0", "0,", ",0", "a", "0-", "-1", "0--1", "0x1", "+1", " 0", "0 ", "0,,1", "99999"}) {
        INFO(bad);
        CHECK_THROWS_WITH(parse_cpuset_cpus(bad, "0-1"), std::string("Invalid value ") + bad + " for cpuset cpus");
    }
}
