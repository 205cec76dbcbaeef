#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "util/error.hpp"
#include "util/fs.hpp"

TEST_CASE("clean_path follows Go's path.Clean", "[util][fs]") {
    CHECK(kiln::clean_path("") == ".");
    CHECK(kiln::clean_path("a//b/./c/") == "a/b/c");
    CHECK(kiln::clean_path("/../x") == "/x");
    CHECK(kiln::clean_path("../../a") == "../../a");
    CHECK(kiln::clean_path("a/b/../../..") == "..");
    CHECK(kiln::clean_path("/a/b/..") == "/a");
    CHECK(kiln::clean_path("/") == "/");
}

TEST_CASE("safe_join never leaves its root", "[util][fs]") {
    CHECK(kiln::safe_join("/r", "a/b") == "/r/a/b");
    CHECK(kiln::safe_join("/r/", "../../etc/passwd") == "/r/etc/passwd");
    CHECK(kiln::safe_join("/r", "/etc/shadow") == "/r/etc/shadow");
    CHECK(kiln::safe_join("/r", "..") == "/r");
    CHECK(kiln::safe_join("/", "x/../y") == "/y");
}

TEST_CASE("open_in_root resolves absolute symlinks inside the root", "[util][fs]") {
    kiln::TempDir root("/tmp", "kiln-fs-test-");
    kiln::TempDir outside("/tmp", "kiln-fs-outside-");
    kiln::atomic_write(outside.path() + "/secret", "outside");
    kiln::mkdir_p(root.path() + "/etc");
    kiln::atomic_write(root.path() + "/etc/secret", "inside");
    REQUIRE(::symlink((outside.path() + "/secret").c_str(), (root.path() + "/abs").c_str()) == 0);
    REQUIRE(::symlink("../../../../etc/secret", (root.path() + "/rel").c_str()) == 0);
    auto rootfd = kiln::open_directory(root.path());

    // The absolute target names a host path that does not exist under root.
    CHECK_THROWS_AS(kiln::open_in_root(rootfd.get(), "abs", O_RDONLY), kiln::Error);
    auto fd = kiln::open_in_root(rootfd.get(), "rel", O_RDONLY);
    char buf[16] = {};
    CHECK(::read(fd.get(), buf, sizeof buf) == 6);
    CHECK(std::string(buf) == "inside");
}

TEST_CASE("atomic_write replaces content whole and leaves no temporary files", "[util][fs]") {
    kiln::TempDir dir("/tmp", "kiln-fs-test-");
    std::string file = dir.path() + "/f";
    kiln::atomic_write(file, "one");
    kiln::atomic_write(file, "two", 0600);
    CHECK(kiln::read_file(file) == "two");
    struct stat st;
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    int entries = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 1);
    CHECK_THROWS_AS(kiln::atomic_write(dir.path() + "/missing/f", "x"), kiln::Error);
}

TEST_CASE("split_path drops empty components", "[util][fs]") {
    CHECK(kiln::split_path("/a//b/") == std::vector<std::string>{"a", "b"});
    CHECK(kiln::split_path("").empty());
    CHECK(kiln::split_path("x") == std::vector<std::string>{"x"});
}

TEST_CASE("remove_all removes a tree and never follows a symlink out of it", "[util][fs]") {
    kiln::TempDir base("/tmp", "kiln-fs-rm-");
    kiln::TempDir outside("/tmp", "kiln-fs-rm-outside-");
    kiln::atomic_write(outside.path() + "/keep", "host file");
    const std::string tree = base.path() + "/tree";
    // Deep enough to need recursion, wide enough to need several getdents64 reads.
    std::string deep = tree;
    for (int i = 0; i < 40; ++i) deep += "/d" + std::to_string(i);
    kiln::mkdir_p(deep);
    for (int i = 0; i < 3000; ++i) kiln::atomic_write(tree + "/f" + std::to_string(i), "x");
    kiln::mkdir_p(tree + "/locked");
    kiln::atomic_write(tree + "/locked/inner", "y");
    REQUIRE(::chmod((tree + "/locked").c_str(), 0) == 0);  // as overlayfs leaves its work dir
    REQUIRE(::symlink(outside.path().c_str(), (tree + "/to-outside").c_str()) == 0);
    REQUIRE(::symlink((outside.path() + "/keep").c_str(), (deep + "/to-file").c_str()) == 0);
    REQUIRE(::mkfifo((tree + "/fifo").c_str(), 0600) == 0);

    if (::geteuid() != 0) REQUIRE(::chmod((tree + "/locked").c_str(), 0700) == 0);  // root ignores modes
    kiln::remove_all(tree);
    CHECK_FALSE(kiln::path_exists(tree));
    CHECK(kiln::read_file(outside.path() + "/keep") == "host file");

    // A missing path is fine; a file or a symlink is removed itself.
    kiln::remove_all(tree);
    kiln::atomic_write(base.path() + "/file", "z");
    kiln::remove_all(base.path() + "/file");
    CHECK_FALSE(kiln::path_exists(base.path() + "/file"));
    REQUIRE(::symlink(outside.path().c_str(), (base.path() + "/link").c_str()) == 0);
    kiln::remove_all(base.path() + "/link");
    CHECK_FALSE(kiln::path_exists(base.path() + "/link"));
    CHECK(kiln::path_exists(outside.path() + "/keep"));
}

TEST_CASE("remove_all refuses to empty a filesystem mounted inside the tree", "[util][fs]") {
    if (::geteuid() != 0) {
        WARN("skipped: mounting a tmpfs needs root");
        return;
    }
    kiln::TempDir base("/tmp", "kiln-fs-rm-mnt-");
    const std::string mnt = base.path() + "/a/mnt";
    kiln::mkdir_p(mnt);
    REQUIRE(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") == 0);
    kiln::atomic_write(mnt + "/on-the-mount", "kept");
    kiln::atomic_write(base.path() + "/a/beside", "gone");
    CHECK_THROWS_WITH(kiln::remove_all(base.path() + "/a"), Catch::Contains("a mount point"));
    CHECK(kiln::read_file(mnt + "/on-the-mount") == "kept");
    REQUIRE(::umount(mnt.c_str()) == 0);
    kiln::remove_all(base.path() + "/a");
    CHECK_FALSE(kiln::path_exists(base.path() + "/a"));
}
