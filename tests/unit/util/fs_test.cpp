#include <catch2/catch.hpp>

#include <fcntl.h>
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
