#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "image_fixture.hpp"

using kiln::test::build_image;
using kiln::test::import_base;
using kiln::test::Kiln;

namespace {

constexpr const char* kKept =
    "FROM localhost/busybox\n"
    "ENV ROLE=kept\n"
    "RUN echo kept > /kept.txt\n"
    "COPY kept.txt /srv/kept.txt\n";
constexpr const char* kDropped =
    "FROM localhost/busybox\n"
    "RUN dd if=/dev/zero of=/big bs=1024 count=300 2>/dev/null\n";

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

}  // namespace

TEST_CASE("cache ls shows each step, its size, and counts hits", "[integration][cache]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    build_image(kiln, kKept, "localhost/kept", {{"kept.txt", "k\n"}});
    auto ls = kiln({"cache", "ls"});
    INFO(ls.out << ls.err);
    REQUIRE(ls.exit_code == 0);
    CHECK(std::regex_search(ls.out, std::regex("^CACHE KEY +STEP +SIZE +CREATED +LAST USED +HITS\n")));
    CHECK(std::regex_search(ls.out, std::regex("\n[0-9a-f]{12}   RUN echo kept > /kept.txt +[0-9.]+kB +.* ago +.* ago +0\n")));
    // Newest first: the steps of one build list last step first.
    CHECK(ls.out.find("COPY kept.txt") < ls.out.find("RUN echo kept"));
    CHECK(ls.out.find("RUN echo kept") < ls.out.find("ENV ROLE=kept"));
    CHECK(count_lines(ls.out) == 4);

    auto rebuild = build_image(kiln, kKept, "localhost/kept", {{"kept.txt", "k\n"}});
    CHECK(rebuild.out.find("CACHED") != std::string::npos);
    auto hits = kiln({"cache", "ls", "--format", "{{.Step}}={{.Hits}}"});
    CHECK(hits.out.find("RUN echo kept > /kept.txt=1\n") != std::string::npos);
    CHECK(hits.out.find("COPY kept.txt /srv/kept.txt=1\n") != std::string::npos);

    auto du = kiln({"cache", "du"});
    CHECK(kiln({"builder", "du"}).out == du.out);
    CHECK(du.out.starts_with("ID\t"));
    CHECK(du.out.find("RECLAIMABLE\tSIZE\tLAST ACCESSED\n") != std::string::npos);
    CHECK(std::regex_search(du.out, std::regex("\nReclaimable:\t0B\nTotal:\t\t[0-9.]+kB\n$")));
    auto verbose = kiln({"cache", "du", "--verbose"});
    CHECK(verbose.out.find("Description:\tRUN echo kept > /kept.txt\n") != std::string::npos);
    CHECK(verbose.out.find("Usage count:\t1\n") != std::string::npos);
}

TEST_CASE("cache prune frees what no image uses and keeps a tagged image's cache", "[integration][cache][prune]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    build_image(kiln, kKept, "localhost/kept", {{"kept.txt", "k\n"}});
    build_image(kiln, kDropped, "localhost/dropped");
    auto kept_layers = kiln({"inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "localhost/kept"}).out;
    REQUIRE(kiln({"rmi", "localhost/dropped"}).exit_code == 0);

    auto df = kiln({"system", "df"});
    CHECK(std::regex_search(df.out, std::regex("^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +2 +0 ")));
    CHECK(std::regex_search(df.out, std::regex("\nBuild Cache +4 +3 +[0-9.]+kB +30[0-9.]*kB\n")));

    auto declined = kiln({"cache", "prune"}, "n\n");
    CHECK(declined.out.find("WARNING! This will remove all dangling build cache.\nAre you sure") == 0);
    CHECK(kiln({"cache", "ls", "-q"}).exit_code != 0);  // no such flag: docker's usage error
    CHECK(count_lines(kiln({"cache", "ls"}).out) == 5);

    auto pruned = kiln({"cache", "prune", "-f"});
    INFO(pruned.out << pruned.err);
    REQUIRE(pruned.exit_code == 0);
    CHECK(std::regex_search(pruned.out, std::regex("^ID\t+RECLAIMABLE\tSIZE\tLAST ACCESSED\n[0-9a-f]{25}\t+true\t+30[0-9.]*kB\t")));
    CHECK(std::regex_search(pruned.out, std::regex("\nTotal:\t30[0-9.]*kB\n$")));
    CHECK(count_lines(kiln({"cache", "ls"}).out) == 4);

    // The tagged image's layers and cache entries are untouched: it rebuilds fully cached.
    CHECK(kiln::path_exists(kept_layers.substr(0, kept_layers.size() - 1)));
    auto again = build_image(kiln, kKept, "localhost/kept", {{"kept.txt", "k\n"}});
    CHECK(std::regex_search(again.out, std::regex("(CACHED[^]*){3}")));  // ENV, RUN and COPY
    auto all = kiln({"cache", "prune", "-a", "-f", "--filter", "until=24h"});
    CHECK(all.out == "Total:\t0B\n");  // everything left is younger than a day, or in use
    auto keep = kiln({"cache", "prune", "-a", "-f", "--keep-storage", "5GB"});
    CHECK(keep.out == "Total:\t0B\n");
}

TEST_CASE("image prune removes dangling images, and with -a every image", "[integration][prune]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    build_image(kiln, kKept, "localhost/kept", {{"kept.txt", "k\n"}});
    build_image(kiln, kDropped, "localhost/dropped");
    // Re-pointing the name leaves the old image dangling, as a rebuild does.
    REQUIRE(kiln({"tag", "localhost/busybox", "localhost/dropped"}).exit_code == 0);
    auto dangling_id = kiln({"images", "-q", "--filter", "dangling=true"}).out;
    REQUIRE(count_lines(dangling_id) == 1);

    auto declined = kiln({"image", "prune"}, "no\n");
    CHECK(declined.out == "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ");
    CHECK(kiln({"images", "-q", "--filter", "dangling=true"}).out == dangling_id);

    auto pruned = kiln({"image", "prune"}, "y\n");
    INFO(pruned.out << pruned.err);
    REQUIRE(pruned.exit_code == 0);
    CHECK(pruned.out.find("Deleted Images:\ndeleted: sha256:" + dangling_id.substr(0, 12)) != std::string::npos);
    CHECK(std::regex_search(pruned.out, std::regex("\n\nTotal reclaimed space: [0-9.]+k?B\n$")));
    CHECK(kiln({"images", "-q", "--filter", "dangling=true"}).out.empty());
    // Its cache still holds its layer, so the build cache, not image prune, gives that back.
    CHECK(count_lines(kiln({"cache", "ls"}).out) == 5);
    auto tagged = kiln({"images", "--format", "{{.Repository}}"});
    std::multiset<std::string> repositories;
    std::istringstream lines(tagged.out);
    for (std::string line; std::getline(lines, line);) repositories.insert(line);
    // Images made in the same second list in no fixed order.
    CHECK(repositories == std::multiset<std::string>{"localhost/busybox", "localhost/dropped", "localhost/kept"});

    auto nothing = kiln({"image", "prune", "-f"});
    CHECK(nothing.out == "Total reclaimed space: 0B\n");
    auto labelled = kiln({"image", "prune", "-a", "-f", "--filter", "label=nope"});
    CHECK(labelled.out == "Total reclaimed space: 0B\n");
    auto everything = kiln({"image", "prune", "-a", "-f"});
    CHECK(everything.out.find("untagged: localhost/kept:latest\n") != std::string::npos);
    CHECK(kiln({"images", "-q"}).out.empty());
}

TEST_CASE("cache prune leaves the layers of a build in flight alone", "[integration][cache][prune]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir context("/tmp", "kiln-it-slow-");
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM localhost/busybox\nRUN echo first > /first\nRUN sleep 3\n");
    kiln::test::CommandResult build;
    std::thread builder([&] { build = kiln({"build", "-t", "localhost/slow", context.path()}); });
    // By now the first RUN is recorded and the second one sleeps: nothing but the build's
    // lease keeps the first step's cache and layer.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto pruned = kiln({"cache", "prune", "-a", "-f"});
    builder.join();
    INFO(build.out << build.err << pruned.out);
    REQUIRE(build.exit_code == 0);
    CHECK(pruned.out == "Total:\t0B\n");
    CHECK(kiln({"cache", "ls"}).out.find("RUN echo first > /first") != std::string::npos);
}
