#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/copy.hpp"
#include "caller_owned.hpp"
#include "builder/source_tree.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln::builder;

namespace {

using kiln::builder::test::caller_owned;


void write(const std::string& path, const std::string& content, mode_t mode = 0644) {
    kiln::atomic_write(path, content, mode);
}

std::string slurp(const std::string& path) { return kiln::read_file(path); }

}  // namespace

TEST_CASE("COPY plans follow Docker's destination rules", "[builder][copy]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::mkdir_p(ctx.path() + "/dir/sub");
    write(ctx.path() + "/a.txt", "a");
    write(ctx.path() + "/b.txt", "b");
    write(ctx.path() + "/dir/sub/c", "c");
    DirectoryTree tree(ctx.path());

    auto one = plan_copy(tree, {"a.txt"}, {}, "/x", nullptr, nullptr);
    REQUIRE(one.size() == 1);
    CHECK(one[0].destination == "/x");

    auto into = plan_copy(tree, {"a.txt"}, {}, "/x/", nullptr, nullptr);
    CHECK(into[0].destination == "/x/a.txt");

    auto glob = plan_copy(tree, {"*.txt"}, {}, "/x/", nullptr, nullptr);
    REQUIRE(glob.size() == 2);
    CHECK(glob[1].destination == "/x/b.txt");
    CHECK_THROWS_AS(plan_copy(tree, {"*.txt"}, {}, "/x", nullptr, nullptr), kiln::Error);
    CHECK_THROWS_AS(plan_copy(tree, {"a.txt", "b.txt"}, {}, "/x", nullptr, nullptr), kiln::Error);

    auto dir = plan_copy(tree, {"dir"}, {}, "/d", nullptr, nullptr);
    CHECK(dir[0].contents_only);

    CHECK_THROWS_WITH(plan_copy(tree, {"missing"}, {}, "/x", nullptr, nullptr),
                      Catch::Contains("file not found in build context"));
    auto excluded = [](std::string_view rel) { return rel == "a.txt"; };
    CHECK_THROWS_AS(plan_copy(tree, {"a.txt"}, {}, "/x", nullptr, excluded), kiln::Error);
    // ".." in a source cannot leave the context.
    auto escaped = plan_copy(tree, {"../../a.txt"}, {}, "/x", nullptr, nullptr);
    CHECK(escaped[0].source == "a.txt");
}

TEST_CASE("COPY digests see content and mode, not mtime", "[builder][copy]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    write(ctx.path() + "/f", "one");
    DirectoryTree tree(ctx.path());
    auto items = plan_copy(tree, {"f"}, {}, "/f", nullptr, nullptr);
    auto d1 = digest_copy(tree, items, {}, nullptr);
    struct timespec times[2] = {{1, 0}, {1, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (ctx.path() + "/f").c_str(), times, 0) == 0);
    CHECK(digest_copy(tree, items, {}, nullptr) == d1);
    ::chmod((ctx.path() + "/f").c_str(), 0600);
    auto d2 = digest_copy(tree, items, {}, nullptr);
    CHECK(d2 != d1);
    write(ctx.path() + "/f", "two", 0600);
    CHECK(digest_copy(tree, items, {}, nullptr) != d2);
    CopyOptions chowned;
    chowned.uid = 1000;
    CHECK(digest_copy(tree, items, chowned, nullptr) != digest_copy(tree, items, {}, nullptr));
}

TEST_CASE("COPY writes files, directories and links into the upper dir", "[builder][copy]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::TempDir upper("/tmp", "kiln-upper-");
    kiln::mkdir_p(ctx.path() + "/src/deep");
    write(ctx.path() + "/src/deep/file", "payload", 0750);
    REQUIRE(::symlink("deep/file", (ctx.path() + "/src/link").c_str()) == 0);
    DirectoryTree tree(ctx.path());
    auto items = plan_copy(tree, {"src"}, {}, "/app/", nullptr, nullptr);
    apply_copy(tree, items, caller_owned(), nullptr, upper.path(), nullptr);
    CHECK(slurp(upper.path() + "/app/deep/file") == "payload");
    struct stat st;
    REQUIRE(::stat((upper.path() + "/app/deep/file").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0750);
    char target[64] = {};
    REQUIRE(::readlink((upper.path() + "/app/link").c_str(), target, sizeof target) > 0);
    CHECK(std::string(target) == "deep/file");

    CopyOptions chmod = caller_owned();
    chmod.mode = 0600;
    auto f = plan_copy(tree, {"src/deep/file"}, {}, "/other", nullptr, nullptr);
    apply_copy(tree, f, chmod, nullptr, upper.path(), nullptr);
    REQUIRE(::stat((upper.path() + "/other").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("COPY never writes through a symlink out of the layer", "[builder][copy][security]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::TempDir upper("/tmp", "kiln-upper-");
    kiln::TempDir outside("/tmp", "kiln-outside-");
    // The first source plants a symlink pointing at a host directory; the second writes
    // "through" it. The write must land inside the layer.
    kiln::mkdir_p(ctx.path() + "/a");
    REQUIRE(::symlink(outside.path().c_str(), (ctx.path() + "/a/escape").c_str()) == 0);
    kiln::mkdir_p(ctx.path() + "/b/escape");
    write(ctx.path() + "/b/escape/pwned", "x");
    DirectoryTree tree(ctx.path());
    auto first = plan_copy(tree, {"a"}, {}, "/", nullptr, nullptr);
    apply_copy(tree, first, caller_owned(), nullptr, upper.path(), nullptr);
    auto second = plan_copy(tree, {"b"}, {}, "/", nullptr, nullptr);
    try {
        apply_copy(tree, second, caller_owned(), nullptr, upper.path(), nullptr);
    } catch (const kiln::Error&) {
        // Refusing is as good as containing.
    }
    CHECK_FALSE(kiln::path_exists(outside.path() + "/pwned"));
}

TEST_CASE("a layer chain hides whited-out and opaque entries", "[builder][chain]") {
    if (::geteuid() != 0) {
        WARN("skipped: whiteouts need root (mknod, trusted.* xattrs)");
        return;
    }
    kiln::TempDir lower("/tmp", "kiln-lower-");
    kiln::TempDir upper("/tmp", "kiln-upper-");
    kiln::mkdir_p(lower.path() + "/etc");
    kiln::mkdir_p(lower.path() + "/opaque");
    write(lower.path() + "/etc/keep", "k");
    write(lower.path() + "/etc/gone", "g");
    write(lower.path() + "/opaque/old", "o");
    kiln::mkdir_p(upper.path() + "/etc");
    kiln::mkdir_p(upper.path() + "/opaque");
    write(upper.path() + "/opaque/new", "n");
    REQUIRE(::mknod((upper.path() + "/etc/gone").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
    REQUIRE(::setxattr((upper.path() + "/opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);

    LayerChainTree chain({upper.path(), lower.path()});
    CHECK(chain.stat("etc/keep"));
    CHECK_FALSE(chain.stat("etc/gone"));
    CHECK(chain.list("etc") == std::vector<std::string>{"keep"});
    CHECK(chain.list("opaque") == std::vector<std::string>{"new"});
    CHECK_FALSE(chain.stat("opaque/old"));
    CHECK(chain.list("") == std::vector<std::string>{"etc", "opaque"});
}

TEST_CASE("COPY honours .dockerignore exceptions inside excluded directories", "[builder][copy]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::TempDir upper("/tmp", "kiln-upper-");
    kiln::mkdir_p(ctx.path() + "/foo");
    write(ctx.path() + "/foo/bar1", "1");
    write(ctx.path() + "/foo/bar2", "2");
    write(ctx.path() + "/keep", "k");
    DirectoryTree tree(ctx.path());
    // .dockerignore: foo*  !foo/bar2   (parent semantics: foo/bar1 is excluded through foo)
    ExcludeFn excluded([](std::string_view rel) { return rel == "foo" || rel == "foo/bar1"; }, true);
    auto items = plan_copy(tree, {"."}, {}, "/ctx/", nullptr, excluded);
    apply_copy(tree, items, caller_owned(), excluded, upper.path(), nullptr);
    CHECK(slurp(upper.path() + "/ctx/foo/bar2") == "2");
    CHECK_FALSE(kiln::path_exists(upper.path() + "/ctx/foo/bar1"));
    CHECK(slurp(upper.path() + "/ctx/keep") == "k");

    ExcludeFn no_exceptions([](std::string_view rel) { return rel == "foo"; });
    kiln::TempDir upper2("/tmp", "kiln-upper-");
    apply_copy(tree, plan_copy(tree, {"."}, {}, "/ctx/", nullptr, no_exceptions), caller_owned(), no_exceptions,
               upper2.path(), nullptr);
    CHECK_FALSE(kiln::path_exists(upper2.path() + "/ctx/foo"));
}

TEST_CASE("directories COPY creates on the way belong to the --chown owner", "[builder][copy]") {
    if (::geteuid() != 0) {
        WARN("skipped: giving files to another owner needs root");
        return;
    }
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::TempDir upper("/tmp", "kiln-upper-");
    write(ctx.path() + "/f", "x", 0644);
    DirectoryTree tree(ctx.path());
    CopyOptions owner;
    owner.uid = 99;
    owner.gid = 98;
    apply_copy(tree, plan_copy(tree, {"f"}, {}, "/a/b/", nullptr, nullptr), owner, nullptr, upper.path(), nullptr);
    for (const char* path : {"/a", "/a/b", "/a/b/f"}) {
        INFO(path);
        struct stat st;
        REQUIRE(::stat((upper.path() + path).c_str(), &st) == 0);
        CHECK(st.st_uid == 99u);
        CHECK(st.st_gid == 98u);
    }
}
