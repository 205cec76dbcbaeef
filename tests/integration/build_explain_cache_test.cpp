#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <regex>

#include "harness.hpp"
#include "image_fixture.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;

namespace {

constexpr const char* kDockerfile =
    "FROM localhost/busybox\n"
    "ARG VERSION=1\n"
    "RUN echo built $VERSION > /version\n"
    "COPY src/ /app/\n"
    "RUN ls /app > /listing\n";

struct Context {
    kiln::TempDir dir{"/tmp", "kiln-it-explain-"};
    Context() {
        kiln::atomic_write(dir.path() + "/Dockerfile", kDockerfile);
        ::mkdir((dir.path() + "/src").c_str(), 0755);
        write("src/a.txt", "a\n");
        write("src/b.txt", "b\n");
    }
    void write(const std::string& name, const std::string& data) const { kiln::atomic_write(dir.path() + "/" + name, data); }
};

kiln::test::CommandResult explain(const Kiln& kiln, const Context& ctx, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"build", "--explain-cache", "-t", "localhost/explained"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(ctx.dir.path());
    auto r = kiln(argv);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
}

// The "cache miss" lines, in order, with their step numbers.
std::vector<std::string> misses(const std::string& out) {
    std::vector<std::string> lines;
    std::regex line("#[0-9]+ cache miss: [^\n]*");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it)
        lines.push_back(it->str());
    return lines;
}

}  // namespace

TEST_CASE("build --explain-cache says, per missed step, which input changed", "[integration][build][explain-cache]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;

    // The first build knows nothing earlier.
    auto first = explain(kiln, ctx);
    auto first_misses = misses(first.out);
    REQUIRE(first_misses.size() == 4);
    CHECK(first_misses[0] == "#2 cache miss: no earlier build ran it on this base");
    CHECK(first_misses[1] == "#3 cache miss: the step before it was rebuilt");

    // Fully cached: nothing to explain.
    CHECK(misses(explain(kiln, ctx).out).empty());

    // One source file changes: the COPY names it with both digests, the RUN after it blames the COPY.
    ctx.write("src/b.txt", "b changed\n");
    auto copied = misses(explain(kiln, ctx).out);
    REQUIRE(copied.size() == 2);
    CHECK(std::regex_match(copied[0], std::regex("#4 cache miss: source /app/b\\.txt changed \\(sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}\\)")));
    CHECK(copied[1] == "#5 cache miss: the step before it was rebuilt");

    // A build arg: its ARG step (history names the value it ends with, as BuildKit's) misses
    // first; the new value is not printed.
    auto by_arg = explain(kiln, ctx, {"--build-arg", "VERSION=sekrit-2"});
    auto arg_misses = misses(by_arg.out);
    REQUIRE(arg_misses.size() == 4);
    CHECK(arg_misses[0] == "#2 cache miss: the instruction changed (was: ARG VERSION=1)");
    CHECK(arg_misses[1] == "#3 cache miss: the step before it was rebuilt");
    CHECK(by_arg.out.find("sekrit") == std::string::npos);

    // An added file, and an edited instruction.
    ctx.write("src/c.txt", "c\n");
    auto added = misses(explain(kiln, ctx).out);
    REQUIRE(!added.empty());
    CHECK(added[0] == "#4 cache miss: source /app/c.txt added");
    ctx.write("Dockerfile", std::string(kDockerfile) + "RUN true\n");
    auto appended = misses(explain(kiln, ctx).out);
    REQUIRE(appended.size() == 1);
    CHECK(appended[0] == "#6 cache miss: no earlier build ran it after the step before it");
    std::string edited = kDockerfile;
    edited.replace(edited.find("ls /app"), 7, "ls -l /app");
    ctx.write("Dockerfile", edited);
    auto changed = misses(explain(kiln, ctx).out);
    REQUIRE(changed.size() == 1);
    CHECK(std::regex_match(changed[0], std::regex("#5 cache miss: the instruction changed \\(was: RUN .*ls /app.*\\)")));

    CHECK(misses(explain(kiln, ctx, {"--no-cache"}).out).front() == "#2 cache miss: --no-cache");
    // The bookkeeping rows are no cache entries of their own.
    auto ls = kiln({"cache", "ls", "--format", "{{.Step}}"});
    CHECK(ls.out.find("FROM") == std::string::npos);
    CHECK(ls.out.find("inputs") == std::string::npos);
}

TEST_CASE("build --explain-cache tells a changed base image", "[integration][build][explain-cache]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    explain(kiln, ctx);
    // Another image under the same name: the same busybox with one more layer.
    kiln::test::build_image(kiln, "FROM localhost/busybox\nRUN touch /rebased\n", "localhost/busybox");
    auto rebased = misses(explain(kiln, ctx).out);
    REQUIRE(!rebased.empty());
    CHECK(std::regex_match(rebased[0],
                           std::regex("#2 cache miss: the image or stage it is built FROM changed \\(sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}\\)")));
    // Pruning everything leaves no explanation rows behind.
    REQUIRE(kiln({"rmi", "localhost/explained"}).exit_code == 0);
    REQUIRE(kiln({"cache", "prune", "-a", "-f"}).exit_code == 0);
    // (The ARG step's result stands only on the tagged base, so prune keeps it.)
    CHECK(misses(explain(kiln, ctx).out).front() == "#3 cache miss: no earlier build ran it on this base");
}
