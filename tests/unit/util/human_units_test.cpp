#include <catch2/catch.hpp>

#include "util/human_units.hpp"

using namespace kiln;

TEST_CASE("human_size writes go-units' decimal sizes", "[util][units]") {
    CHECK(human_size(0) == "0B");
    CHECK(human_size(999) == "999B");
    CHECK(human_size(1000) == "1kB");
    CHECK(human_size(2145280) == "2.15MB");
    CHECK(human_size(2145280, 4) == "2.145MB");
    CHECK(human_size(1234567890) == "1.23GB");
    CHECK(human_size(72800000) == "72.8MB");
}

TEST_CASE("bytes_size writes go-units' binary sizes, as stats prints memory", "[util][units]") {
    CHECK(bytes_size(0) == "0B");
    CHECK(bytes_size(1023) == "1023B");
    CHECK(bytes_size(1024) == "1KiB");
    CHECK(bytes_size(1536) == "1.5KiB");
    CHECK(bytes_size(64 << 20) == "64MiB");
    CHECK(bytes_size(2047ull << 20) == "1.999GiB");
    CHECK(bytes_size(123456789) == "117.7MiB");
}

TEST_CASE("human_duration follows go-units HumanDuration", "[util][units]") {
    CHECK(human_duration(0) == "Less than a second");
    CHECK(human_duration(1) == "1 second");
    CHECK(human_duration(59) == "59 seconds");
    CHECK(human_duration(60) == "About a minute");
    CHECK(human_duration(119) == "About a minute");
    CHECK(human_duration(120) == "2 minutes");
    CHECK(human_duration(59 * 60) == "59 minutes");
    CHECK(human_duration(90 * 60) == "2 hours");  // rounded to the nearest hour, as go-units does
    CHECK(human_duration(60 * 60) == "About an hour");
    CHECK(human_duration(47 * 3600) == "47 hours");
    CHECK(human_duration(3 * 86400) == "3 days");
    CHECK(human_duration(20 * 86400) == "2 weeks");
    CHECK(human_duration(90 * 86400) == "3 months");
    CHECK(human_duration(800 * 86400) == "2 years");
}

TEST_CASE("sizes and durations read as docker's flags read them", "[util][units]") {
    CHECK(parse_human_size("5GB") == 5000000000ull);
    CHECK(parse_human_size("512mb") == 512000000ull);
    CHECK(parse_human_size("1.5k") == 1500ull);
    CHECK(parse_human_size("100") == 100ull);
    CHECK(parse_human_size("10B") == 10ull);
    CHECK_FALSE(parse_human_size("GB"));
    CHECK_FALSE(parse_human_size("5 parsecs"));
    CHECK(parse_go_duration("24h") == 86400);
    CHECK(parse_go_duration("1h30m") == 5400);
    CHECK(parse_go_duration("90s") == 90);
    CHECK_FALSE(parse_go_duration("3 days"));
    CHECK_FALSE(parse_go_duration(""));
}
