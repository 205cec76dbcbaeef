#include <catch2/catch.hpp>

#include "runtime/mount_propagation.hpp"

using kiln::runtime::mount_holding;

namespace {

const char* const mountinfo =
    "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "40 27 0:38 / /tmp rw,relatime - tmpfs tmpfs rw\n"
    "41 40 0:39 / /tmp/a\\040b rw,relatime master:7 - tmpfs tmpfs rw\n"
    "42 27 0:40 / /srv rw,relatime shared:9 master:3 - ext4 /dev/vdb rw\n"
    "43 27 0:41 / /srv rw,relatime - tmpfs tmpfs rw\n";

}  // namespace

TEST_CASE("the mount holding a path is the longest mount point above it, the top one of a stack",
          "[runtime][propagation]") {
    auto root = mount_holding("/etc/passwd", mountinfo);
    REQUIRE(root);
    CHECK(root->mount_point == "/");
    CHECK(root->shared);
    CHECK_FALSE(root->slave);

    // /tmpfoo is not under /tmp.
    CHECK(mount_holding("/tmpfoo/x", mountinfo)->mount_point == "/");
    auto tmp = mount_holding("/tmp", mountinfo);
    CHECK(tmp->mount_point == "/tmp");
    CHECK_FALSE(tmp->shared);

    // Octal escapes in mount points, and master:N for a slave.
    auto spaced = mount_holding("/tmp/a b/c", mountinfo);
    CHECK(spaced->mount_point == "/tmp/a b");
    CHECK(spaced->slave);
    CHECK_FALSE(spaced->shared);

    // Two mounts on /srv: the later one is on top.
    auto srv = mount_holding("/srv/data", mountinfo);
    CHECK(srv->mount_point == "/srv");
    CHECK_FALSE(srv->shared);
    CHECK_FALSE(mount_holding("/x", "garbage\n"));
}
