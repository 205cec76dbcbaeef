// Hostile layer tars: nothing may ever be written outside the destination.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "image/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "tar_test_helpers.hpp"

namespace {

using kiln::TempDir;
using kiln::UniqueFd;
using kiln::test::bytes_fd;
using kiln::image::extract_layer_tar;

struct Item {
    enum Kind { File, Dir, Symlink, Hardlink, Char } kind;
    std::string path;
    std::string data;  // content, or link target
    la_int64_t declared_size = -1;
};

struct WriterDeleter {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// Builds a tar with libarchive, exactly with the names given (no cleaning).
std::string build_tar(const std::vector<Item>& items) {
    std::unique_ptr<archive, WriterDeleter> a(archive_write_new());
    REQUIRE(archive_write_set_format_pax_restricted(a.get()) == ARCHIVE_OK);
    std::vector<char> buf(1 << 20);
    size_t used = 0;
    REQUIRE(archive_write_open_memory(a.get(), buf.data(), buf.size(), &used) == ARCHIVE_OK);
    for (const auto& it : items) {
        std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
        archive_entry_set_pathname(e.get(), it.path.c_str());
        archive_entry_set_mtime(e.get(), 1000, 0);
        switch (it.kind) {
        case Item::File:
            archive_entry_set_filetype(e.get(), AE_IFREG);
            archive_entry_set_perm(e.get(), 0644);
            archive_entry_set_size(e.get(), static_cast<la_int64_t>(it.data.size()));
            break;
        case Item::Dir:
            archive_entry_set_filetype(e.get(), AE_IFDIR);
            archive_entry_set_perm(e.get(), 0755);
            break;
        case Item::Symlink:
            archive_entry_set_filetype(e.get(), AE_IFLNK);
            archive_entry_set_perm(e.get(), 0777);
            archive_entry_set_symlink(e.get(), it.data.c_str());
            break;
        case Item::Hardlink:
            archive_entry_set_filetype(e.get(), AE_IFREG);
            archive_entry_set_perm(e.get(), 0644);
            archive_entry_set_hardlink(e.get(), it.data.c_str());
            break;
        case Item::Char:
            archive_entry_set_filetype(e.get(), AE_IFCHR);
            archive_entry_set_perm(e.get(), 0666);
            archive_entry_set_rdev(e.get(), makedev(1, 3));
            break;
        }
        REQUIRE(archive_write_header(a.get(), e.get()) >= ARCHIVE_WARN);
        if (it.kind == Item::File && !it.data.empty())
            REQUIRE(archive_write_data(a.get(), it.data.data(), it.data.size()) ==
                    static_cast<la_ssize_t>(it.data.size()));
    }
    REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
    return std::string(buf.data(), used);
}

// Layout: <tmp>/sandbox/{dest, outside/}, <tmp>/sandbox/dest is where the layer goes.
// The tars aim at "outside", "/tmp/outside" and "/etc"; afterwards outside must be empty
// and nothing new may exist next to dest.
struct Sandbox {
    TempDir tmp{"/tmp", "kiln-hostile-"};
    std::string dest = tmp.path() + "/a/b/dest";
    std::string outside = tmp.path() + "/a/b/outside";
    Sandbox() {
        kiln::mkdir_p(dest);
        kiln::mkdir_p(outside);
    }
    // Runs the extraction; either it throws kiln::Error or it completes.
    void extract(const std::vector<Item>& items) {
        std::string bytes = build_tar(items);
        UniqueFd fd = bytes_fd(bytes);
        try {
            extract_layer_tar(fd.get(), dest);
        } catch (const kiln::Error& e) {
            std::string msg = e.what();
            INFO(msg);
            CHECK(msg.find('\n') == std::string::npos);
        }
    }
    void check_clean() const {
        int n = 0;
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(outside.c_str()), ::closedir);
        REQUIRE(d);
        while (dirent* e = ::readdir(d.get()))
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
        CHECK(n == 0);
        std::unique_ptr<DIR, int (*)(DIR*)> up(::opendir((tmp.path() + "/a/b").c_str()), ::closedir);
        REQUIRE(up);
        int m = 0;
        while (::readdir(up.get())) ++m;
        CHECK(m == 4);  // ".", "..", "dest", "outside"
        CHECK_FALSE(kiln::path_exists(tmp.path() + "/x"));
        CHECK_FALSE(kiln::path_exists(tmp.path() + "/a/x"));
        CHECK_FALSE(kiln::path_exists("/tmp/outside-kiln-test"));
        CHECK_FALSE(kiln::path_exists("/etc/kiln-pwned"));
    }
};

std::string rel_outside() { return "../outside"; }

}  // namespace

TEST_CASE("extract: dot-dot names stay inside dest", "[tar_extract]") {
    Sandbox s;
    s.extract({{Item::File, "../outside/x", "pwn"},
               {Item::File, "../../x", "pwn"},
               {Item::File, "a/../../../../outside/y", "pwn"}});
    s.check_clean();
    CHECK(kiln::path_exists(s.dest + "/outside/x"));
    CHECK(kiln::path_exists(s.dest + "/x"));
}

TEST_CASE("extract: absolute names stay inside dest", "[tar_extract]") {
    Sandbox s;
    s.extract({{Item::File, "/etc/kiln-pwned", "pwn"}, {Item::File, "/tmp/outside-kiln-test", "pwn"}});
    s.check_clean();
    CHECK(kiln::read_file(s.dest + "/etc/kiln-pwned") == "pwn");
}

TEST_CASE("extract: writes through an absolute symlink stay inside dest", "[tar_extract]") {
    Sandbox s;
    s.extract({{Item::Symlink, "a", s.outside}, {Item::File, "a/file", "pwn"}});
    s.check_clean();
    char t[512] = {};
    REQUIRE(::readlink((s.dest + "/a").c_str(), t, sizeof t - 1) > 0);
    CHECK(std::string(t) == s.outside);  // the link itself is kept as content
}

TEST_CASE("extract: writes through a relative symlink stay inside dest", "[tar_extract]") {
    Sandbox s;
    s.extract({{Item::Symlink, "up", "../../.."}, {Item::File, "up/x", "pwn"},
               {Item::Symlink, "out", rel_outside()}, {Item::File, "out/y", "pwn"},
               {Item::Dir, "d", ""}, {Item::Symlink, "d/deeper", "../../outside"}, {Item::File, "d/deeper/z", "pwn"}});
    s.check_clean();
    CHECK(kiln::read_file(s.dest + "/x") == "pwn");  // "up" resolves to dest itself
}

TEST_CASE("extract: a symlink replacing a file is not followed by later entries", "[tar_extract]") {
    Sandbox s;
    s.extract({{Item::File, "f", "plain"}, {Item::Symlink, "f", s.outside + "/target"}, {Item::File, "f", "pwn"}});
    s.check_clean();
    struct stat st;
    REQUIRE(::lstat((s.dest + "/f").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("extract: hardlinks cannot reach outside dest", "[tar_extract]") {
    Sandbox s;
    kiln::atomic_write(s.outside + "/../secret", "secret");
    s.extract({{Item::Hardlink, "passwd", "/etc/passwd"}});
    s.extract({{Item::Hardlink, "sec", "../secret"}});
    s.extract({{Item::Symlink, "l", s.outside + "/.."}, {Item::Hardlink, "sec2", "l/secret"}});
    CHECK_FALSE(kiln::path_exists(s.dest + "/passwd"));
    CHECK_FALSE(kiln::path_exists(s.dest + "/sec"));
    CHECK_FALSE(kiln::path_exists(s.dest + "/sec2"));
    struct stat st;
    REQUIRE(::stat((s.outside + "/../secret").c_str(), &st) == 0);
    CHECK(st.st_nlink == 1);
    ::unlink((s.outside + "/../secret").c_str());
    s.check_clean();
}

TEST_CASE("extract: hardlinks must name a regular file in the layer", "[tar_extract]") {
    Sandbox s;
    CHECK_THROWS_AS(
        [&] {
            UniqueFd fd = bytes_fd(build_tar({{Item::Dir, "d", ""}, {Item::Hardlink, "h", "d"}}));
            extract_layer_tar(fd.get(), s.dest);
        }(),
        kiln::Error);
    Sandbox ok;
    UniqueFd fd = bytes_fd(build_tar({{Item::File, "f", "data"}, {Item::Hardlink, "h", "./f"}}));
    extract_layer_tar(fd.get(), ok.dest);
    CHECK(kiln::read_file(ok.dest + "/h") == "data");
}

TEST_CASE("extract: whiteouts through symlinks cannot remove outside files", "[tar_extract]") {
    if (::geteuid() != 0) {
        WARN("not root: whiteouts need mknod, skipped");
        return;
    }
    Sandbox s;
    kiln::atomic_write(s.outside + "/keep", "k");
    s.extract({{Item::Symlink, "l", s.outside}, {Item::File, "l/.wh.keep", ""},
               {Item::Symlink, "r", "../outside"}, {Item::File, "r/.wh..wh..opq", ""}});
    CHECK(kiln::read_file(s.outside + "/keep") == "k");
    char v[4];
    CHECK(::lgetxattr(s.outside.c_str(), "trusted.overlay.opaque", v, sizeof v) < 0);
    ::unlink((s.outside + "/keep").c_str());
    s.check_clean();
}

TEST_CASE("extract: whiteouts become overlay whiteouts", "[tar_extract]") {
    if (::geteuid() != 0) {
        WARN("not root: whiteouts need mknod, skipped");
        return;
    }
    Sandbox s;
    s.extract({{Item::Dir, "d", ""}, {Item::File, "d/.wh..wh..opq", ""}, {Item::File, "d/.wh.gone", ""},
               {Item::File, ".wh.x", ""}, {Item::File, ".wh..wh.plnk", ""}});
    struct stat st;
    REQUIRE(::lstat((s.dest + "/d/gone").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    REQUIRE(::lstat((s.dest + "/x").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK_FALSE(kiln::path_exists(s.dest + "/.wh.x"));
    CHECK_FALSE(kiln::path_exists(s.dest + "/.wh..wh.plnk"));
    char v[4] = {};
    CHECK(::lgetxattr((s.dest + "/d").c_str(), "trusted.overlay.opaque", v, sizeof v) == 1);
    s.check_clean();
}

TEST_CASE("extract: device nodes only as root", "[tar_extract]") {
    Sandbox s;
    s.extract({{Item::Char, "dev/null", ""}});
    struct stat st;
    if (::geteuid() == 0) {
        REQUIRE(::lstat((s.dest + "/dev/null").c_str(), &st) == 0);
        CHECK(S_ISCHR(st.st_mode));
    } else {
        CHECK_FALSE(kiln::path_exists(s.dest + "/dev/null"));
    }
}

TEST_CASE("extract: garbage input fails with a one-line kiln::Error", "[tar_extract]") {
    Sandbox s;
    for (std::string junk : {std::string(), std::string("not a tar at all\n"), std::string(700, 'A'),
                             std::string("\x1f\x8b\x08\x00garbage", 12)}) {
        UniqueFd fd = bytes_fd(junk);
        try {
            extract_layer_tar(fd.get(), s.dest);
            FAIL("accepted junk of " << junk.size() << " bytes");
        } catch (const kiln::Error& e) {
            std::string msg = e.what();
            INFO(msg);
            CHECK(msg.find('\n') == std::string::npos);
        }
    }
    // A truncated tar (header promising more data than present).
    std::string t = build_tar({{Item::File, "f", std::string(5000, 'x')}});
    UniqueFd fd = bytes_fd(t.substr(0, 1024));
    CHECK_THROWS_AS(extract_layer_tar(fd.get(), s.dest), kiln::Error);
    s.check_clean();
}

TEST_CASE("extract: a whiteout never hides entries of its own layer", "[tar_extract]") {
    if (::geteuid() != 0) {
        WARN("not root: whiteouts need mknod, skipped");
        return;
    }
    Sandbox s;
    s.extract({{Item::File, "foo", "mine"}, {Item::File, ".wh.foo", ""}, {Item::Dir, "d", ""},
               {Item::File, "d/x", "x"}, {Item::File, ".wh.d", ""}, {Item::File, ".wh.bar", ""}});
    CHECK(kiln::read_file(s.dest + "/foo") == "mine");
    CHECK(kiln::read_file(s.dest + "/d/x") == "x");
    struct stat st;
    REQUIRE(::lstat((s.dest + "/bar").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK_FALSE(kiln::path_exists(s.dest + "/.wh.bar"));
    // Onto a tree that was not empty, a whiteout replaces what is there (an upper dir).
    Sandbox t;
    kiln::atomic_write(t.dest + "/old", "lower");
    t.extract({{Item::File, ".wh.old", ""}});
    REQUIRE(::lstat((t.dest + "/old").c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
}

TEST_CASE("extract into a directory fd for cp: names kept, directories never replaced by files, inside dest",
          "[tar_extract]") {
    Sandbox s;
    kiln::mkdir_p(s.dest + "/keep");
    kiln::atomic_write(s.dest + "/keep/inner", "old");
    kiln::image::ExtractOptions options;
    options.layer = false;
    auto extract = [&](const std::vector<Item>& items) {
        std::string bytes = build_tar(items);
        UniqueFd fd = bytes_fd(bytes);
        UniqueFd dir = kiln::open_directory(s.dest);
        kiln::image::extract_tar_into(dir.get(), "dest", [&](void* buf, std::size_t cap) {
            return kiln::read_some(fd.get(), buf, cap, "the test tar");
        }, options);
    };
    // A ".wh." name is a file like any other here, not a whiteout.
    extract({{Item::File, ".wh.keep", "plain"}, {Item::Symlink, "up", "/"}, {Item::File, "up/../outside/x", "pwn"}});
    CHECK(kiln::read_file(s.dest + "/.wh.keep") == "plain");
    CHECK(kiln::read_file(s.dest + "/keep/inner") == "old");
    s.check_clean();
    CHECK_THROWS_WITH(extract({{Item::File, "keep", "a file over a directory"}}),
                      Catch::Contains("cannot overwrite directory"));
    CHECK(kiln::read_file(s.dest + "/keep/inner") == "old");
}
