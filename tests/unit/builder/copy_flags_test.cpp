#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "builder/chmod_spec.hpp"
#include "builder/copy.hpp"
#include "caller_owned.hpp"
#include "builder/source_tree.hpp"
#include "parser/dockerignore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln::builder;

namespace {

using kiln::builder::test::caller_owned;

void write(const std::string& path, const std::string& content) { kiln::atomic_write(path, content, 0644); }

std::vector<std::string> destinations(const std::vector<CopyItem>& items) {
    std::vector<std::string> out;
    for (const auto& item : items) out.push_back(item.destination);
    return out;
}

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st;
}

ExcludeFn ignore_file(const std::vector<std::string>& lines) {
    auto matcher = std::make_shared<kiln::parser::PatternMatcher>(lines);
    return ExcludeFn([matcher](std::string_view rel) { return matcher->matches(rel); }, matcher->has_exclusions());
}

}  // namespace

TEST_CASE("COPY --chmod takes octal and chmod(1)'s symbolic modes", "[builder][copy][chmod]") {
    CHECK_FALSE(ChmodSpec::parse("0755").symbolic());
    CHECK(ChmodSpec::parse("0755").apply(0600, false) == 0755);
    CHECK(ChmodSpec::parse("4755").apply(0, false) == 04755);
    CHECK(ChmodSpec::parse("u+x").apply(0644, false) == 0744);
    CHECK(ChmodSpec::parse("+x").apply(0644, false) == 0755);
    CHECK(ChmodSpec::parse("a=r").apply(0755, false) == 0444);
    CHECK(ChmodSpec::parse("go-w").apply(0666, false) == 0644);
    CHECK(ChmodSpec::parse("u+x,g-w").apply(0664, false) == 0744);
    CHECK(ChmodSpec::parse("u=rwx,go=").apply(0644, false) == 0700);
    CHECK(ChmodSpec::parse("u+x-w").apply(0644, false) == 0544);
    // X: execute for directories and for files that are executable by someone already.
    CHECK(ChmodSpec::parse("a+X").apply(0644, false) == 0644);
    CHECK(ChmodSpec::parse("a+X").apply(0644, true) == 0755);
    CHECK(ChmodSpec::parse("go+X").apply(0744, false) == 0755);
    CHECK(ChmodSpec::parse("u+s,g+s").apply(0755, false) == 06755);
    CHECK(ChmodSpec::parse("+t").apply(0777, true) == 01777);
    CHECK(ChmodSpec::parse("u+t").apply(0777, true) == 0777);
    for (const char* bad : {"", "8", "77777", "u", "u+q", "u+x,", "0o755", "g=u", "+x y"}) {
        INFO(bad);
        CHECK_THROWS_WITH(ChmodSpec::parse(bad), Catch::Contains("invalid --chmod"));
    }
}

TEST_CASE("COPY --parents keeps each source's path below the destination", "[builder][copy][parents]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::mkdir_p(ctx.path() + "/x");
    kiln::mkdir_p(ctx.path() + "/y");
    kiln::mkdir_p(ctx.path() + "/a/b/c");
    write(ctx.path() + "/x/a.txt", "x");
    write(ctx.path() + "/y/a.txt", "y");
    write(ctx.path() + "/a/b/c/f", "f");
    DirectoryTree tree(ctx.path());
    CopyPlanFlags parents{true};

    auto two = plan_copy(tree, {"./x/a.txt", "./y/a.txt"}, {}, "/p/", nullptr, nullptr, parents);
    CHECK(destinations(two) == std::vector<std::string>{"/p/x", "/p/x/a.txt", "/p/y", "/p/y/a.txt"});
    CHECK(two[0].directory_only);

    // The part before "/./" is left behind; the destination needs no trailing slash.
    auto pivot = plan_copy(tree, {"a/./b/c"}, {}, "/q", nullptr, nullptr, parents);
    CHECK(destinations(pivot) == std::vector<std::string>{"/q/b", "/q/b/c"});
    CHECK(pivot.back().source == "a/b/c");

    auto glob = plan_copy(tree, {"*/a.txt"}, {}, "/g/", nullptr, nullptr, parents);
    CHECK(destinations(glob) == std::vector<std::string>{"/g/x", "/g/x/a.txt", "/g/y", "/g/y/a.txt"});

    kiln::TempDir upper("/tmp", "kiln-upper-");
    apply_copy(tree, two, caller_owned(), nullptr, upper.path(), nullptr);
    CHECK(kiln::read_file(upper.path() + "/p/x/a.txt") == "x");
    CHECK(kiln::read_file(upper.path() + "/p/y/a.txt") == "y");
    CHECK_THROWS_WITH(plan_copy(tree, {"./z/a.txt"}, {}, "/p/", nullptr, nullptr, parents),
                      Catch::Contains("file not found"));
}

TEST_CASE("COPY --exclude filters below each source, .dockerignore style", "[builder][copy][exclude]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::mkdir_p(ctx.path() + "/dir/sub");
    write(ctx.path() + "/dir/a.txt", "a");
    write(ctx.path() + "/dir/b.md", "b");
    write(ctx.path() + "/dir/sub/c.txt", "c");
    write(ctx.path() + "/dir/sub/keep.txt", "k");
    DirectoryTree tree(ctx.path());
    CopyOptions options = caller_owned();
    options.excludes = std::make_shared<kiln::parser::PatternMatcher>(
        std::vector<std::string>{"*.txt", "sub/*.txt", "!sub/keep.txt"});
    auto items = plan_copy(tree, {"dir"}, {}, "/d/", nullptr, nullptr);
    kiln::TempDir upper("/tmp", "kiln-upper-");
    apply_copy(tree, items, options, nullptr, upper.path(), nullptr);
    CHECK(kiln::path_exists(upper.path() + "/d/b.md"));
    CHECK_FALSE(kiln::path_exists(upper.path() + "/d/a.txt"));
    CHECK_FALSE(kiln::path_exists(upper.path() + "/d/sub/c.txt"));
    CHECK(kiln::read_file(upper.path() + "/d/sub/keep.txt") == "k");
    // What is excluded is part of what the copy is, so of its cache key.
    CHECK(digest_copy(tree, items, options, nullptr) != digest_copy(tree, items, caller_owned(), nullptr));

    // With --parents the patterns are relative to the context, so the source itself can go.
    CopyOptions by_path = caller_owned();
    by_path.excludes = std::make_shared<kiln::parser::PatternMatcher>(std::vector<std::string>{"dir/sub"});
    auto parents = plan_copy(tree, {"dir/sub", "dir/b.md"}, {}, "/p/", nullptr, nullptr, CopyPlanFlags{true});
    kiln::TempDir upper2("/tmp", "kiln-upper-");
    apply_copy(tree, parents, by_path, nullptr, upper2.path(), nullptr);
    CHECK(kiln::path_exists(upper2.path() + "/p/dir/b.md"));
    CHECK_FALSE(kiln::path_exists(upper2.path() + "/p/dir/sub"));
}

TEST_CASE("COPY sources: symlinks are followed at the top, wildcards may match nothing or one",
          "[builder][copy]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::mkdir_p(ctx.path() + "/dir");
    write(ctx.path() + "/real.txt", "real");
    write(ctx.path() + "/one.txt", "1");
    write(ctx.path() + "/dir/inner", "i");
    REQUIRE(::symlink("real.txt", (ctx.path() + "/link").c_str()) == 0);
    REQUIRE(::symlink("/dir", (ctx.path() + "/dirlink").c_str()) == 0);
    REQUIRE(::symlink("../../../../etc/passwd", (ctx.path() + "/escape").c_str()) == 0);
    REQUIRE(::symlink("inner", (ctx.path() + "/dir/rel").c_str()) == 0);
    DirectoryTree tree(ctx.path());

    auto link = plan_copy(tree, {"link"}, {}, "/l", nullptr, nullptr);
    CHECK(link[0].source == "real.txt");
    CHECK(link[0].destination == "/l");
    // An absolute target is the context's own root; the directory's contents are copied.
    auto dir = plan_copy(tree, {"dirlink"}, {}, "/d", nullptr, nullptr);
    CHECK(dir[0].source == "dir");
    CHECK(dir[0].contents_only);
    // "../" cannot climb out of the context: the link points at nothing inside it.
    CHECK_THROWS_WITH(plan_copy(tree, {"escape"}, {}, "/e", nullptr, nullptr), Catch::Contains("symlink"));

    kiln::TempDir upper("/tmp", "kiln-upper-");
    apply_copy(tree, link, caller_owned(), nullptr, upper.path(), nullptr);
    apply_copy(tree, dir, caller_owned(), nullptr, upper.path(), nullptr);
    CHECK(S_ISREG(lstat_of(upper.path() + "/l").st_mode));
    CHECK(kiln::read_file(upper.path() + "/l") == "real");
    // Links inside a copied directory stay links.
    CHECK(S_ISLNK(lstat_of(upper.path() + "/d/rel").st_mode));

    auto empty_beside = plan_copy(tree, {"one.txt", "missing*"}, {}, "/m/", nullptr, nullptr);
    CHECK(destinations(empty_beside) == std::vector<std::string>{"/m/one.txt"});
    CHECK_THROWS_WITH(plan_copy(tree, {"missing*"}, {}, "/m/", nullptr, nullptr), Catch::Contains("file not found"));
    auto single = plan_copy(tree, {"on?.txt"}, {}, "/dest.txt", nullptr, nullptr);
    CHECK(destinations(single) == std::vector<std::string>{"/dest.txt"});
    CHECK_THROWS_WITH(plan_copy(tree, {"*.txt"}, {}, "/dest.txt", nullptr, nullptr),
                      Catch::Contains("must be a directory"));
}

TEST_CASE("an excluded directory with re-included files can be copied", "[builder][copy][dockerignore]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::mkdir_p(ctx.path() + "/dir/deep");
    kiln::mkdir_p(ctx.path() + "/other");
    write(ctx.path() + "/dir/keep", "k");
    write(ctx.path() + "/dir/drop", "d");
    write(ctx.path() + "/dir/deep/x", "x");
    write(ctx.path() + "/other/y", "y");
    ::chmod((ctx.path() + "/dir").c_str(), 0750);
    DirectoryTree tree(ctx.path());
    auto ignored = ignore_file({"**", "!dir/keep"});
    auto items = plan_copy(tree, {"dir"}, {}, "/d/", nullptr, ignored);
    kiln::TempDir upper("/tmp", "kiln-upper-");
    apply_copy(tree, items, caller_owned(), ignored, upper.path(), nullptr);
    CHECK(kiln::read_file(upper.path() + "/d/keep") == "k");
    CHECK_FALSE(kiln::path_exists(upper.path() + "/d/drop"));
    CHECK_FALSE(kiln::path_exists(upper.path() + "/d/deep"));
    // COPY . keeps the directory holding the re-included file, with its own mode.
    auto all = plan_copy(tree, {"."}, {}, "/all/", nullptr, ignored);
    apply_copy(tree, all, caller_owned(), ignored, upper.path(), nullptr);
    CHECK((lstat_of(upper.path() + "/all/dir").st_mode & 07777) == 0750);
    CHECK_FALSE(kiln::path_exists(upper.path() + "/all/other"));
    CHECK_THROWS_WITH(plan_copy(tree, {"other"}, {}, "/o/", nullptr, ignored), Catch::Contains("file not found"));
}

TEST_CASE("COPY into a path under a symlink of the image follows it inside the image",
          "[builder][copy][security]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::TempDir image("/tmp", "kiln-lower-");
    kiln::TempDir upper("/tmp", "kiln-upper-");
    write(ctx.path() + "/f", "payload");
    kiln::mkdir_p(image.path() + "/usr/lib2");
    kiln::mkdir_p(image.path() + "/etc");
    REQUIRE(::symlink("usr/lib2", (image.path() + "/lib2").c_str()) == 0);
    // An absolute link names the image's /etc, never the host's.
    std::string marker = "kiln-copy-test-" + std::to_string(::getpid());
    REQUIRE(::symlink("/etc", (image.path() + "/x").c_str()) == 0);
    DirectoryTree tree(ctx.path());
    DirectoryTree lower(image.path());

    apply_copy(tree, plan_copy(tree, {"f"}, {}, "/lib2/", &lower, nullptr), caller_owned(), nullptr, upper.path(), &lower);
    CHECK(kiln::read_file(upper.path() + "/usr/lib2/f") == "payload");
    CHECK_FALSE(kiln::path_exists(upper.path() + "/lib2"));
    // Without the slash the link to a directory is still that directory.
    auto into = plan_copy(tree, {"f"}, {}, "/lib2", &lower, nullptr);
    CHECK(into[0].destination == "/lib2/f");

    apply_copy(tree, plan_copy(tree, {"f"}, {}, "/x/" + marker, &lower, nullptr), caller_owned(), nullptr,
               upper.path(), &lower);
    CHECK(kiln::read_file(upper.path() + "/etc/" + marker) == "payload");
    CHECK_FALSE(kiln::path_exists("/etc/" + marker));
}

TEST_CASE("COPY keeps hard links and user xattrs of a copied tree", "[builder][copy]") {
    kiln::TempDir ctx("/tmp", "kiln-ctx-");
    kiln::mkdir_p(ctx.path() + "/src");
    write(ctx.path() + "/src/a", "same");
    REQUIRE(::link((ctx.path() + "/src/a").c_str(), (ctx.path() + "/src/b").c_str()) == 0);
    bool xattrs = ::setxattr((ctx.path() + "/src/a").c_str(), "user.kiln", "v1", 2, 0) == 0;
    DirectoryTree tree(ctx.path());
    auto items = plan_copy(tree, {"src"}, {}, "/d/", nullptr, nullptr);
    kiln::TempDir upper("/tmp", "kiln-upper-");
    apply_copy(tree, items, caller_owned(), nullptr, upper.path(), nullptr);
    auto a = lstat_of(upper.path() + "/d/a");
    auto b = lstat_of(upper.path() + "/d/b");
    CHECK(a.st_ino == b.st_ino);
    CHECK(a.st_nlink == 2);
    if (!xattrs) {
        WARN("skipped the xattr part: " << ctx.path() << " takes no user.* xattrs");
        return;
    }
    char value[8] = {};
    CHECK(::getxattr((upper.path() + "/d/a").c_str(), "user.kiln", value, sizeof value) == 2);
    CHECK(std::string(value) == "v1");
    auto before = digest_copy(tree, items, caller_owned(), nullptr);
    REQUIRE(::setxattr((ctx.path() + "/src/a").c_str(), "user.kiln", "v2", 2, 0) == 0);
    CHECK(digest_copy(tree, items, caller_owned(), nullptr) != before);
}

TEST_CASE("heredoc sources: <<- strips tabs, unquoted ones are expanded", "[builder][copy][heredoc]") {
    kiln::parser::Heredoc plain{"EOF", "a=$a\n\t\"$a\"\n", true, false, 0};
    kiln::parser::Heredoc quoted{"Q", "a=$a\n", false, false, 0};
    kiln::parser::Heredoc chomped{"T", "\t\tx\n\ty\n", false, true, 0};
    auto expand = [](const std::string& body) {
        std::string out;
        for (std::size_t i = 0; i < body.size(); ++i) {
            if (body.compare(i, 2, "$a") == 0) {
                out += "v";
                ++i;
            } else {
                out += body[i];
            }
        }
        return out;
    };
    auto docs = heredoc_sources({plain, quoted, chomped}, expand);
    CHECK(docs[0].content == "a=v\n\t\"v\"\n");
    CHECK(docs[1].content == "a=$a\n");
    CHECK(docs[2].content == "x\ny\n");
}
