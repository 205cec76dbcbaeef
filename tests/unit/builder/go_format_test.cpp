#include <catch2/catch.hpp>

#include <cstdint>

#include "builder/go_format.hpp"

using kiln::builder::go_duration;

TEST_CASE("durations print as Go's time.Duration.String", "[builder][history]") {
    CHECK(go_duration(0) == "0s");
    CHECK(go_duration(1) == "1ns");
    CHECK(go_duration(1'500) == "1.5\xC2\xB5s");
    CHECK(go_duration(500'000'000) == "500ms");
    CHECK(go_duration(1'250'000) == "1.25ms");
    CHECK(go_duration(1'000'000'000) == "1s");
    CHECK(go_duration(1'500'000'000) == "1.5s");
    CHECK(go_duration(90'000'000'000) == "1m30s");
    CHECK(go_duration(3'600'000'000'000) == "1h0m0s");
    CHECK(go_duration(3'661'000'000'001) == "1h1m1.000000001s");
    CHECK(go_duration(-2'000'000'000) == "-2s");
    CHECK(go_duration(INT64_MIN) == "-2562047h47m16.854775808s");
}

TEST_CASE("lists print as Go's %q and %v of a []string", "[builder][history]") {
    CHECK(kiln::builder::go_quoted_list({"sh", "-c", "echo \"a\"\tb"}) == "[\"sh\" \"-c\" \"echo \\\"a\\\"\\tb\"]");
    CHECK(kiln::builder::go_quoted_list({}) == "[]");
    CHECK(kiln::builder::go_list({"/bin/bash", "-c"}) == "[/bin/bash -c]");
}
