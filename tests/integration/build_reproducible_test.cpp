// SOURCE_DATE_EPOCH builds: the same context built into two fresh stores gives the same
// image ID and, saved, the same bytes (so the same manifest digest).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "harness.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;
using kiln::test::run_command;
using kiln::test::trimmed;

namespace {

kiln::test::CommandResult kiln_env(const Kiln& kiln, const std::vector<std::string>& env, std::vector<std::string> args) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    auto rest = kiln.argv(std::move(args));
    argv.insert(argv.end(), rest.begin(), rest.end());
    return run_command(argv);
}

}  // namespace

TEST_CASE("SOURCE_DATE_EPOCH builds into two stores give the same image ID and saved bytes",
          "[integration][build][reproducible]") {
    SKIP_UNLESS_ROOT();
    kiln::TempDir work("/tmp", "kiln-it-repro-");
    const std::string ctx = work.path() + "/ctx";
    kiln::mkdir_p(ctx + "/src");
    kiln::atomic_write(ctx + "/src/a.txt", "copied\n");
    kiln::atomic_write(ctx + "/Dockerfile",
                       "FROM localhost/busybox\n"
                       "COPY src /app/\n"
                       "RUN mkdir -p /data/deep && echo written > /data/deep/f && ln -s deep/f /data/link && touch /app/a.txt\n"
                       "ENV MODE=repro\n");
    // One base in both stores: imported once, then saved and loaded (an import records its time).
    Kiln first, second;
    import_base(first);
    const std::string base = work.path() + "/base.tar";
    REQUIRE(first({"save", "-o", base, "localhost/busybox:latest"}).exit_code == 0);
    REQUIRE(second({"load", "-i", base}).exit_code == 0);

    auto a = kiln_env(first, {"SOURCE_DATE_EPOCH=1700000000"}, {"build", "-q", "-t", "localhost/repro:1", ctx});
    INFO(a.err);
    REQUIRE(a.exit_code == 0);
    // Every time a build writes is then at least a second later than the first build's.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    auto b = kiln_env(second, {}, {"build", "-q", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "-t", "localhost/repro:1", ctx});
    INFO(b.err);
    REQUIRE(b.exit_code == 0);
    CHECK(trimmed(a.out) == trimmed(b.out));
    CHECK(kiln::test::inspect_value(first, "localhost/repro:1", "{{.Created}}").find("2023-11-14T22:13:20") == 0);

    for (std::string format : {"oci-archive", "docker-archive"}) {
        const std::string sa = work.path() + "/a-" + format, sb = work.path() + "/b-" + format;
        REQUIRE(kiln_env(first, {"SOURCE_DATE_EPOCH=1700000000"}, {"save", "--format", format, "-o", sa, "localhost/repro:1"})
                    .exit_code == 0);
        REQUIRE(kiln_env(second, {"SOURCE_DATE_EPOCH=1700000000"}, {"save", "--format", format, "-o", sb, "localhost/repro:1"})
                    .exit_code == 0);
        INFO(format);
        CHECK(kiln::read_file(sa) == kiln::read_file(sb));
    }

    // --output type=oci writes the same layout from either store (the manifest digest with it).
    const std::string oa = work.path() + "/oa.tar", ob = work.path() + "/ob.tar";
    REQUIRE(kiln_env(first, {"SOURCE_DATE_EPOCH=1700000000"}, {"build", "-q", "-o", "type=oci,dest=" + oa, ctx}).exit_code == 0);
    REQUIRE(kiln_env(second, {"SOURCE_DATE_EPOCH=1700000000"}, {"build", "-q", "-o", "type=oci,dest=" + ob, ctx}).exit_code == 0);
    CHECK(kiln::read_file(oa) == kiln::read_file(ob));
    CHECK(run_command({"tar", "-xOf", oa, "index.json"}).out == run_command({"tar", "-xOf", ob, "index.json"}).out);

    SECTION("without the epoch the second store's build differs (the check above can fail)") {
        auto plain = kiln_env(second, {}, {"build", "-q", ctx});
        REQUIRE(plain.exit_code == 0);
        CHECK(trimmed(plain.out) != trimmed(a.out));
    }
    SECTION("a reproducible build keeps its cache apart from a normal one") {
        auto again = kiln_env(first, {"SOURCE_DATE_EPOCH=1700000000"}, {"build", "-q", ctx});
        CHECK(trimmed(again.out) == trimmed(a.out));
        auto bad = kiln_env(first, {"SOURCE_DATE_EPOCH=yesterday"}, {"build", "-q", ctx});
        CHECK(bad.exit_code != 0);
        CHECK(bad.err.find("SOURCE_DATE_EPOCH") != std::string::npos);
    }
}
