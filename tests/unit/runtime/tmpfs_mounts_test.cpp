#include <catch2/catch.hpp>

#include <sys/mount.h>

#include "runtime/tmpfs_mounts.hpp"
#include "util/error.hpp"

using kiln::runtime::split_tmpfs_flag;
using kiln::runtime::tmpfs_mount;

TEST_CASE("--tmpfs values split into a clean path and options", "[runtime][tmpfs]") {
    CHECK(split_tmpfs_flag("/run") == std::pair<std::string, std::string>{"/run", ""});
    CHECK(split_tmpfs_flag("/a//b/:size=1m,ro") == std::pair<std::string, std::string>{"/a/b", "size=1m,ro"});
    CHECK_THROWS_AS(split_tmpfs_flag("run"), kiln::Error);
    CHECK_THROWS_AS(split_tmpfs_flag(":size=1m"), kiln::Error);
}

TEST_CASE("tmpfs mounts start from Docker's noexec, nosuid, nodev", "[runtime][tmpfs]") {
    auto plain = tmpfs_mount("/run", "");
    CHECK(plain.flags == (MS_NOEXEC | MS_NOSUID | MS_NODEV));
    CHECK(plain.data.empty());
    auto given = tmpfs_mount("/run", "exec,ro,size=64m,mode=1700,uid=1000,nr_inodes=1k");
    CHECK(given.flags == (MS_RDONLY | MS_NOSUID | MS_NODEV));
    CHECK(given.data == "size=64m,mode=1700,uid=1000,nr_inodes=1k");
    CHECK(tmpfs_mount("/run", "suid,dev,rw").flags == MS_NOEXEC);
    CHECK(tmpfs_mount("/run", "size=50%").data == "size=50%");
}

TEST_CASE("unknown tmpfs options and bad values are refused", "[runtime][tmpfs]") {
    CHECK_THROWS_WITH(tmpfs_mount("/run", "bogus"), "invalid --tmpfs option \"bogus\" for /run");
    CHECK_THROWS_AS(tmpfs_mount("/run", "size=lots"), kiln::Error);
    CHECK_THROWS_AS(tmpfs_mount("/run", "mode=999"), kiln::Error);
    CHECK_THROWS_AS(tmpfs_mount("/run", "uid=-1"), kiln::Error);
    // Mount data cannot be smuggled in through a value.
    CHECK_THROWS_AS(tmpfs_mount("/run", "mode=1777\\,x"), kiln::Error);
}
