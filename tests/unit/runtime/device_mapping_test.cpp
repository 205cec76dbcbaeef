#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "runtime/device_mapping.hpp"
#include "util/error.hpp"

using kiln::runtime::DeviceMapping;
using kiln::runtime::parse_device;

TEST_CASE("--device values parse as the docker CLI's", "[runtime][device_mapping]") {
    CHECK(parse_device("/dev/zero") == DeviceMapping{"/dev/zero", "/dev/zero", "rwm"});
    CHECK(parse_device("/dev/zero:/dev/mydev") == DeviceMapping{"/dev/zero", "/dev/mydev", "rwm"});
    CHECK(parse_device("/dev/zero:r") == DeviceMapping{"/dev/zero", "/dev/zero", "r"});
    CHECK(parse_device("/dev/zero:/dev/x/../mydev:rw") == DeviceMapping{"/dev/zero", "/dev/mydev", "rw"});
    CHECK_THROWS_WITH(parse_device("/dev/zero:/dev/z:rwx"), "invalid device mode: rwx");
    CHECK_THROWS_AS(parse_device("/dev/zero:/dev/z:rr"), kiln::Error);
    CHECK_THROWS_AS(parse_device("/dev/zero:dev/z"), kiln::Error);
    CHECK_THROWS_AS(parse_device("zero"), kiln::Error);
    CHECK_THROWS_AS(parse_device("/a:/b:r:x"), kiln::Error);
}

TEST_CASE("a granted device has the host node's numbers and a rule with its permissions", "[runtime][device_mapping]") {
    auto g = kiln::runtime::grant_device({"/dev/null", "/dev/mynull", "rw"});
    CHECK(g.node.path == "/dev/mynull");
    CHECK(S_ISCHR(g.node.mode));
    CHECK(g.rule.str() == "c 1:3 rw");
    CHECK_THROWS_AS(kiln::runtime::grant_device({"/etc/passwd", "/dev/x", "rwm"}), kiln::Error);
    CHECK_THROWS_AS(kiln::runtime::grant_device({"/dev/none-such", "/dev/x", "rwm"}), kiln::Error);
}
