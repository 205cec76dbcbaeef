#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "harness.hpp"

using kiln::test::busybox_tarball;
using kiln::test::import_base;
using kiln::test::Kiln;
#include "util/fs.hpp"

namespace {

std::string copy_example(const std::string& into) {
    std::filesystem::copy(KILN_SOURCE_DIR "/examples/hello", into,
                          std::filesystem::copy_options::recursive);
    return into;
}

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

std::set<std::string> entries(const std::string& dir) { return kiln::test::dir_entries(dir); }

}  // namespace

TEST_CASE("examples/hello builds, runs, and rebuilds from cache", "[integration][build]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir work("/tmp", "kiln-it-ctx-");
    std::string ctx = copy_example(work.path() + "/hello");

    auto first = kiln({"build", "-t", "hello", ctx});
    INFO(first.out << first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(count(first.out, " CACHED") == 0);
    std::smatch m;
    REQUIRE(std::regex_search(first.out, m, std::regex("Successfully built ([0-9a-f]{12})")));
    std::string image_id = m[1];

    auto run = kiln({"run", "--rm", "hello"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("Hello from kiln") != std::string::npos);
    CHECK(run.out.find("This file was copied into the image by COPY.") != std::string::npos);
    CHECK(run.out.find("built on Linux by root") != std::string::npos);
    CHECK(run.out.find("running as pid 1 in /app") != std::string::npos);

    SECTION("an unchanged rebuild is fully cached and gives the same image") {
        auto again = kiln({"build", "-t", "hello", ctx});
        INFO(again.out << again.err);
        REQUIRE(again.exit_code == 0);
        // Every step after FROM reports CACHED and no RUN output appears.
        CHECK(count(again.out, " CACHED") == 5);
        CHECK(again.out.find("Successfully built " + image_id) != std::string::npos);
    }

    SECTION("changing one copied file re-runs that step and the ones after it only") {
        std::ofstream(ctx + "/message.txt", std::ios::app) << "changed\n";
        auto again = kiln({"build", "-t", "hello", ctx});
        INFO(again.out << again.err);
        REQUIRE(again.exit_code == 0);
        // ENV and WORKDIR are cached; COPY, RUN and CMD run again.
        CHECK(count(again.out, " CACHED") == 2);
        CHECK(again.out.find("Successfully built " + image_id) == std::string::npos);
        auto out = kiln({"run", "--rm", "hello"});
        CHECK(out.out.find("changed") != std::string::npos);
    }
}

TEST_CASE("a failing RUN reports its exit code and changes nothing in the store", "[integration][build]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    kiln::atomic_write(ctx.path() + "/Dockerfile",
                       "FROM localhost/busybox:latest\nRUN echo partial > /partial && exit 7\n");
    auto layers_before = entries(kiln.root.path() + "/layers");
    auto blobs_before = entries(kiln.root.path() + "/blobs/sha256");
    auto images_before = kiln({"images", "-q"}).out;

    auto r = kiln({"build", "-t", "broken", ctx.path()});
    CHECK(r.exit_code != 0);
    CHECK((r.out + r.err).find("exit code: 7") != std::string::npos);
    CHECK(entries(kiln.root.path() + "/layers") == layers_before);
    CHECK(entries(kiln.root.path() + "/blobs/sha256") == blobs_before);
    CHECK(entries(kiln.root.path() + "/snapshots").empty());
    CHECK(kiln({"images", "-q"}).out == images_before);
}

TEST_CASE("a Dockerfile syntax error names file, line and column", "[integration][build]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    kiln::atomic_write(ctx.path() + "/Dockerfile", "FROM scratch\nCOPPY a /b\n");
    auto r = kiln({"build", ctx.path()});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("Dockerfile:2:1:") != std::string::npos);
    CHECK(r.err.find("COPPY a /b") != std::string::npos);
    CHECK(r.err.find('^') != std::string::npos);
}

TEST_CASE("kiln run passes exit codes through as Docker does", "[integration][run]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    CHECK(kiln({"run", "--rm", "localhost/busybox", "sh", "-c", "exit 3"}).exit_code == 3);
    CHECK(kiln({"run", "--rm", "localhost/busybox", "no-such-command"}).exit_code == 127);
    CHECK(kiln({"run", "--rm", "localhost/busybox", "/etc/passwd"}).exit_code == 126);
    // A signal's 128+N: the container's PID 1 ignores signals it sends itself (as in Docker),
    // so the killed process is a child whose status the shell passes on.
    CHECK(kiln({"run", "--rm", "localhost/busybox", "sh", "-c", "sh -c 'kill -9 $$'; exit $?"}).exit_code == 137);
    CHECK(kiln({"run", "--rm", "no/such-image"}).exit_code == 125);
    auto env = kiln({"run", "--rm", "-e", "X=42", "-w", "/tmp", "localhost/busybox", "sh", "-c", "echo $X $(pwd)"});
    CHECK(env.out == "42 /tmp\n");
    auto in = kiln({"run", "--rm", "-i", "localhost/busybox", "cat"}, "from stdin\n");
    CHECK(in.out == "from stdin\n");
}

TEST_CASE("kiln import takes compressed tarballs and images/rmi manage them", "[integration][image]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-import-");
    std::string gz = work.path() + "/rootfs.tar.gz";
    std::string zst = work.path() + "/rootfs.tar.zst";
    REQUIRE(kiln::test::run_command({"sh", "-c", "gzip -c " + busybox_tarball() + " > " + gz}).exit_code == 0);
    bool have_zstd = kiln::test::run_command({"sh", "-c", "zstd -q -c " + busybox_tarball() + " > " + zst}).exit_code == 0;

    auto plain = kiln({"import", busybox_tarball(), "plain:1"});
    auto gzip = kiln({"import", gz, "gzip:1"});
    REQUIRE(plain.exit_code == 0);
    REQUIRE(gzip.exit_code == 0);
    // Same bytes ⇒ same layer, whatever the compression.
    CHECK(entries(kiln.root.path() + "/layers").size() == 1);
    if (have_zstd) CHECK(kiln({"import", zst, "zstd:1"}).exit_code == 0);
    CHECK(entries(kiln.root.path() + "/layers").size() == 1);

    auto images = kiln({"images"});
    CHECK(images.out.find("plain") != std::string::npos);
    CHECK(images.out.find("gzip") != std::string::npos);
    CHECK(kiln({"run", "--rm", "gzip:1", "true"}).exit_code == 0);

    kiln::atomic_write(work.path() + "/garbage", "this is not a tarball\n");
    CHECK(kiln({"import", work.path() + "/garbage", "bad:1"}).exit_code == 125);
    CHECK(kiln({"import", busybox_tarball(), "Bad Name"}).exit_code == 125);
    CHECK(entries(kiln.root.path() + "/layers").size() == 1);

    CHECK(kiln({"rmi", "plain:1"}).exit_code == 0);
    CHECK(kiln({"rmi", "gzip:1"}).exit_code == 0);
    if (have_zstd) CHECK(kiln({"rmi", "zstd:1"}).exit_code == 0);
    CHECK(kiln({"images", "-q"}).out.empty());
    CHECK(entries(kiln.root.path() + "/layers").empty());
    CHECK(kiln({"rmi", "gzip:1"}).exit_code != 0);
}

TEST_CASE("kiln import reads stdin and applies --change and -m", "[integration][image]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    std::string tar = kiln::read_file(busybox_tarball());
    auto r = kiln({"import", "-c", "ENV GREETING=hello", "--change", "WORKDIR /srv", "-c", "CMD echo $GREETING from $PWD",
                   "-m", "from a pipe", "-", "localhost/changed:1"},
                  tar);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(kiln({"run", "--rm", "localhost/changed:1"}).out == "hello from /srv\n");
    auto saved = kiln({"save", "--format", "oci-dir", "-o", kiln.root.path() + "/saved", "localhost/changed:1"});
    REQUIRE(saved.exit_code == 0);
    std::string configs;
    for (auto& e : std::filesystem::directory_iterator(kiln.root.path() + "/saved/blobs/sha256"))
        configs += kiln::read_file(e.path());
    CHECK(configs.find("\"comment\":\"from a pipe\"") != std::string::npos);

    // A refused change creates nothing.
    auto layers = entries(kiln.root.path() + "/layers");
    auto bad = kiln({"import", "--change", "RUN rm -rf /", "-", "localhost/bad:1"}, tar);
    CHECK(bad.exit_code == 125);
    CHECK(bad.err.find("invalid --change \"RUN rm -rf /\"") != std::string::npos);
    CHECK(entries(kiln.root.path() + "/layers") == layers);
    CHECK(kiln({"images", "-q", "localhost/bad"}).out.empty());
}

TEST_CASE("kiln run isolates the container from the host", "[integration][run]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::string marker = "kiln-isolation-" + std::to_string(::getpid());
    // --network none: a namespace of its own with only lo (the bridge's eth0 is [network]'s).
    auto r = kiln({"run", "--rm", "--network", "none", "localhost/busybox", "sh", "-c",
                   "echo pid=$$; hostname; ls /sys/class/net; ls /proc | grep -c '^[0-9]'; "
                   "echo x > /" + marker});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("pid=1\n") == 0);
    CHECK(r.out.find(std::string(host) + "\n") == std::string::npos);
    CHECK(r.out.find("\nlo\n") != std::string::npos);
    CHECK(r.out.find("eth0") == std::string::npos);
    // Host processes are invisible: only the few in this container show in /proc.
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("\nlo\n([0-9]+)\n")));
    CHECK(std::stoi(m[1]) < 10);
    CHECK_FALSE(kiln::path_exists("/" + marker));
    // The writable layer went away with --rm: the next container starts clean.
    auto again = kiln({"run", "--rm", "localhost/busybox", "ls", "/" + marker});
    CHECK(again.exit_code != 0);
}

TEST_CASE("builds print lint warnings and fail on them with check=error=true", "[integration][build]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    kiln::atomic_write(ctx.path() + "/Dockerfile", "FROM localhost/busybox:latest AS Build\nCMD echo hi\n");
    auto warned = kiln({"build", ctx.path()});
    CHECK(warned.exit_code == 0);
    CHECK(warned.out.find("StageNameCasing") != std::string::npos);
    CHECK(warned.out.find("JSONArgsRecommended") != std::string::npos);

    kiln::atomic_write(ctx.path() + "/Dockerfile",
                       "# check=error=true\nFROM localhost/busybox:latest AS Build\nRUN touch /x\n");
    auto layers_before = entries(kiln.root.path() + "/layers");
    auto failed = kiln({"build", ctx.path()});
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find("lint check") != std::string::npos);
    // It failed before RUN: nothing was built.
    CHECK(entries(kiln.root.path() + "/layers") == layers_before);
}

TEST_CASE("COPY --chown resolves names in the image and --chmod sets modes", "[integration][build]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir ctx("/tmp", "kiln-it-ctx-");
    kiln::atomic_write(ctx.path() + "/f", "payload\n");
    kiln::atomic_write(ctx.path() + "/Dockerfile",
                       "FROM localhost/busybox:latest\n"
                       "COPY --chown=nobody:nogroup f /named\n"
                       "COPY --chown=1000 --chmod=0600 f /numeric\n");
    auto built = kiln({"build", "-t", "owners", ctx.path()});
    INFO(built.out << built.err);
    REQUIRE(built.exit_code == 0);
    auto r = kiln({"run", "--rm", "owners", "stat", "-c", "%u:%g %a", "/named", "/numeric"});
    // A user without a group takes the same number as GID, as in Docker.
    CHECK(r.out == "65534:65534 644\n1000:1000 600\n");

    kiln::atomic_write(ctx.path() + "/Dockerfile",
                       "FROM localhost/busybox:latest\nCOPY --chown=nosuchuser f /x\n");
    auto bad = kiln({"build", ctx.path()});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("nosuchuser") != std::string::npos);
}

TEST_CASE("kiln run -m below 6 MB is one line of error, exit 125, nothing created", "[integration][run]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    auto r = kiln({"run", "--rm", "-m", "1", "localhost/busybox", "true"});
    CHECK(r.exit_code == 125);
    CHECK(r.err == "kiln: Minimum memory limit allowed is 6MB\n");
    CHECK(r.out.empty());
    CHECK(entries(kiln.root.path() + "/snapshots").empty());
    CHECK(kiln({"run", "--rm", "-m", "6m", "localhost/busybox", "true"}).exit_code == 0);
}
