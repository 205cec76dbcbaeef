// kiln build's stage graph: independent stages build at the same time (at most --jobs),
// a stage the target does not need is not built, the first failure cancels the rest, and
// the image is the one a serial build makes.
#include <catch2/catch.hpp>

#include <regex>
#include <sstream>

#include "harness.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;
using kiln::test::trimmed;

namespace {

struct Context {
    kiln::TempDir dir{"/tmp", "kiln-it-graph-"};
    explicit Context(const std::string& dockerfile) { kiln::atomic_write(dir.path() + "/Dockerfile", dockerfile); }
    const std::string& path() const { return dir.path(); }
};

// Two independent stages that each record when their RUN started and ended (the host's
// uptime in centiseconds: busybox's date has no %N), one the target does not need, and a target copying both.
const char* const kTwoSleepers =
    "FROM localhost/busybox AS a\n"
    "RUN awk '{print $1}' /proc/uptime > /start && sleep 1 && awk '{print $1}' /proc/uptime > /end\n"
    "FROM localhost/busybox AS b\n"
    "RUN awk '{print $1}' /proc/uptime > /start && sleep 1 && awk '{print $1}' /proc/uptime > /end\n"
    "FROM localhost/busybox AS unused\n"
    "RUN echo unused-stage-ran\n"
    "FROM localhost/busybox\n"
    "COPY --from=a /start /a.start\n"
    "COPY --from=a /end /a.end\n"
    "COPY --from=b /start /b.start\n"
    "COPY --from=b /end /b.end\n";

struct Interval {
    double start = 0, end = 0;
};

Interval interval(const Kiln& kiln, const std::string& image, const std::string& stage) {
    auto r = kiln({"run", "--rm", image, "cat", "/" + stage + ".start", "/" + stage + ".end"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::istringstream in(r.out);
    Interval i;
    REQUIRE(in >> i.start >> i.end);
    REQUIRE(i.start < i.end);
    return i;
}

bool overlap(const Interval& x, const Interval& y) { return x.start < y.end && y.start < x.end; }

// Every progress line names its step; what follows the last step is the summary.
void check_lines_whole(const std::string& out) {
    static const std::regex step_line("^#\\d+ .*");
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("writing image ") || line.starts_with("Successfully ")) continue;
        INFO(line);
        CHECK(std::regex_match(line, step_line));
    }
}

}  // namespace

TEST_CASE("build --jobs 2 runs independent stages at once and --jobs 1 one after the other", "[integration][graph]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx(kTwoSleepers);

    auto parallel = kiln({"build", "--no-cache", "--jobs", "2", "-t", "localhost/graph:parallel", ctx.path()});
    INFO(parallel.out << parallel.err);
    REQUIRE(parallel.exit_code == 0);
    CHECK(overlap(interval(kiln, "localhost/graph:parallel", "a"), interval(kiln, "localhost/graph:parallel", "b")));
    // The stage nobody copies from is not built.
    CHECK(parallel.out.find("[unused ") == std::string::npos);
    CHECK(parallel.out.find("unused-stage-ran") == std::string::npos);
    check_lines_whole(parallel.out);

    auto serial = kiln({"build", "--no-cache", "--jobs", "1", "-t", "localhost/graph:serial", ctx.path()});
    INFO(serial.out << serial.err);
    REQUIRE(serial.exit_code == 0);
    CHECK_FALSE(overlap(interval(kiln, "localhost/graph:serial", "a"), interval(kiln, "localhost/graph:serial", "b")));
    check_lines_whole(serial.out);
}

TEST_CASE("build --jobs 2 and --jobs 1 make the same image", "[integration][graph]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx("FROM localhost/busybox AS a\nRUN echo a > /a && echo from-a\n"
                "FROM localhost/busybox AS b\nRUN echo b > /b && echo from-b\nENV B=1\n"
                "FROM localhost/busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n");
    auto build = [&](const std::string& jobs) {
        auto r = kiln({"build", "-q", "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "--jobs", jobs,
                       ctx.path()});
        INFO(r.out << r.err);
        REQUIRE(r.exit_code == 0);
        return trimmed(r.out);
    };
    const std::string serial = build("1");
    CHECK(serial.starts_with("sha256:"));
    CHECK(build("2") == serial);
    CHECK(build("2") == serial);
}

TEST_CASE("a failing stage cancels the others and its error quotes the step's last lines", "[integration][graph]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx("FROM localhost/busybox AS a\n"
                "RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line-$i; done; sleep 1; exit 3\n"
                "FROM localhost/busybox AS b\n"
                "RUN sleep 30 && echo b-finished-sleeping\n"
                "RUN echo b-second-step > /marker\n"
                "FROM localhost/busybox\n"
                "COPY --from=a /etc/passwd /a\n"
                "COPY --from=b /marker /b\n");
    auto r = kiln({"build", "--jobs", "2", ctx.path()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    // The failing step, its exit code and its last ten lines (not the two before them).
    CHECK(r.err.find("[a 2/2] RUN for i in") != std::string::npos);
    CHECK(r.err.find("exit code: 3") != std::string::npos);
    CHECK(r.err.find(" line-3\n") != std::string::npos);
    CHECK(r.err.find(" line-12\n") != std::string::npos);
    CHECK(r.err.find(" line-2\n") == std::string::npos);
    // b's running RUN was killed, and its next step never started.
    // (the step's own title names the echo: only an output line, "#N 1.234 text", counts)
    CHECK_FALSE(std::regex_search(r.out, std::regex("#[0-9]+ [0-9.]+ b-finished-sleeping")));
    CHECK(r.out.find("[b 3/3]") == std::string::npos);
    CHECK(r.out.find(" CANCELED\n") != std::string::npos);
    check_lines_whole(r.out);
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());
    CHECK(kiln({"images", "-q"}).out == kiln({"images", "-q", "localhost/busybox"}).out);
}
