// kiln build on a terminal: BuildKit's live view (--progress=tty, and auto on a terminal),
// and the plain lines everywhere else.
#include <catch2/catch.hpp>

#include <sstream>

#include "harness.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;
using kiln::test::run_on_terminal;

namespace {

struct TtyContext {
    kiln::TempDir work{"/tmp", "kiln-it-tty-"};
    std::string dir = work.path() + "/ctx";
    TtyContext() {
        kiln::mkdir_p(dir);
        kiln::atomic_write(dir + "/a.txt", "a\n");
        kiln::atomic_write(dir + "/Dockerfile",
                           "FROM localhost/busybox\nCOPY a.txt /a.txt\n"
                           "RUN for i in 1 2 3 4 5 6 7 8 9; do echo tty-line-$i; sleep 0.05; done\n"
                           "RUN echo " + std::string(150, 'w') + "\n");
        kiln::atomic_write(dir + "/Dockerfile.fail", "FROM localhost/busybox\nRUN echo the-last-words; exit 3\n");
    }
};

std::vector<std::string> build_argv(const Kiln& kiln, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "TERM=xterm"};
    for (auto& a : kiln.argv(std::move(args))) argv.push_back(std::move(a));
    return argv;
}

// The text as it stays on the screen: from the last erase on (the last frame and what
// followed it), carriage returns dropped.
std::string last_frame(const std::string& output) {
    auto at = output.rfind("\x1b[J");
    REQUIRE(at != std::string::npos);
    std::string text = output.substr(at + 3);
    std::erase(text, '\r');
    return text;
}

// Every line the view drew, its escape sequences taken out, fits in 79 columns (the
// terminal has no size set: the view assumes 80).
void check_lines_fit(const std::string& output, const std::string& trailer_start) {
    std::string text = output.substr(0, output.find(trailer_start));
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
        std::string shown;
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (line[i] == '\x1b') {
                while (i < line.size() && !(line[i] >= 'A' && line[i] <= 'Z')) ++i;
                continue;
            }
            if (line[i] != '\r') shown += line[i];
        }
        INFO(shown);
        CHECK(shown.size() <= 79);
    }
}

}  // namespace

TEST_CASE("build on a terminal shows BuildKit's live view, each line within the terminal's width",
          "[integration][build][tty-progress]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    TtyContext ctx;
    for (const std::string mode : {"tty", "auto"}) {
        INFO("--progress=" << mode);
        auto r = run_on_terminal(build_argv(kiln, {"build", "--progress=" + mode, "-t", "localhost/tty:1", ctx.dir}));
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        const std::string frame = last_frame(r.output);
        CHECK(frame.starts_with("[+] Building "));
        CHECK(frame.find("FINISHED") != std::string::npos);
        CHECK(frame.find("=> [stage-0 1/4] FROM localhost/busybox") != std::string::npos);
        CHECK(frame.find("RUN for i in 1 2 3") != std::string::npos);
        // The running step's output shows while it runs, and is gone from the last frame.
        CHECK(frame.find("=> => # tty-line-") == std::string::npos);
        CHECK(frame.find("Successfully built ") != std::string::npos);
        CHECK(frame.find("Successfully tagged localhost/tty:1") != std::string::npos);
        CHECK(r.output.find("#1 [stage-0 1/4]") == std::string::npos);
        check_lines_fit(r.output, "writing image");
        if (mode == "tty") {
            CHECK(r.output.find("=> => # tty-line-") != std::string::npos);
            CHECK(frame.find("=> [stage-0 2/4] COPY a.txt /a.txt") != std::string::npos);
        } else {
            // The second build of the same context: every step from the cache.
            CHECK(frame.find("=> CACHED [stage-0 2/4] COPY a.txt /a.txt") != std::string::npos);
            CHECK(frame.find("=> CACHED [stage-0 3/4] RUN for i") != std::string::npos);
        }
    }
}

TEST_CASE("a failed build on a terminal marks the step ERROR and quotes its last output below the view",
          "[integration][build][tty-progress]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    TtyContext ctx;
    auto r = run_on_terminal(build_argv(kiln, {"build", "--progress=tty", "-f", ctx.dir + "/Dockerfile.fail", ctx.dir}));
    INFO(r.output);
    CHECK(r.exit_code == 1);
    const std::string frame = last_frame(r.output);
    CHECK(frame.find("=> ERROR [stage-0 2/2] RUN echo the-last-words; exit 3") != std::string::npos);
    const auto error = frame.find("ERROR: failed to build");
    REQUIRE(error != std::string::npos);
    CHECK(frame.find("exit code: 3", error) != std::string::npos);
    CHECK(frame.find("the-last-words", error) != std::string::npos);
}

TEST_CASE("build --progress=auto off a terminal, and plain on one, print BuildKit's plain lines",
          "[integration][build][tty-progress]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    TtyContext ctx;
    auto piped = kiln({"build", "--progress=auto", ctx.dir});
    INFO(piped.out << piped.err);
    REQUIRE(piped.exit_code == 0);
    CHECK(piped.out.find("#1 [stage-0 1/4] FROM localhost/busybox") != std::string::npos);
    CHECK(piped.out.find(" tty-line-9") != std::string::npos);
    CHECK(piped.out.find('\x1b') == std::string::npos);
    auto plain = run_on_terminal(build_argv(kiln, {"build", "--progress=plain", ctx.dir}));
    CHECK(plain.exit_code == 0);
    CHECK(plain.output.find("#1 [stage-0 1/4] FROM localhost/busybox") != std::string::npos);
    CHECK(plain.output.find('\x1b') == std::string::npos);
}
