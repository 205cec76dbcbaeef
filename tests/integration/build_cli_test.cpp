// kiln build's command line: where the Dockerfile and the context come from, what the
// image gets (--label), where it goes (--output, --iidfile), and the RUN step settings.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>

#include "harness.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;
using kiln::test::run_command;
using kiln::test::trimmed;

namespace {

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

const std::regex kImageIdLine("sha256:[0-9a-f]{64}\n");

struct Context {
    kiln::TempDir work{"/tmp", "kiln-it-buildcli-"};
    std::string dir = work.path() + "/ctx";
    Context() {
        kiln::mkdir_p(dir);
        kiln::atomic_write(dir + "/a.txt", "from the context\n");
        kiln::atomic_write(dir + "/Dockerfile", "FROM localhost/busybox\nCOPY a.txt /app/a.txt\n");
    }
};

}  // namespace

TEST_CASE("build -f - reads the Dockerfile from stdin and build takes --label and --iidfile", "[integration][build][buildcli]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    const std::string iid = ctx.work.path() + "/iid";
    kiln::atomic_write(iid, "stale");
    auto r = kiln({"build", "-q", "-f", "-", "--label", "org.example.team=build", "--label", "empty=", "--iidfile", iid,
                   "-t", "localhost/stdin:1", ctx.dir},
                  "FROM localhost/busybox\nCOPY a.txt /from-stdin.txt\nRUN echo run-output\n");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    // -q: stdout is the image ID alone, RUN's output goes elsewhere.
    CHECK(std::regex_match(r.out, kImageIdLine));
    CHECK(kiln::read_file(iid) == trimmed(r.out));
    CHECK(kiln::test::inspect_value(kiln, "localhost/stdin:1", "{{index .Config.Labels \"org.example.team\"}}") == "build");
    auto cat = kiln({"run", "--rm", "localhost/stdin:1", "cat", "/from-stdin.txt"});
    CHECK(cat.out == "from the context\n");

    SECTION("a failed build removes the old iidfile") {
        auto bad = kiln({"build", "-q", "-f", "-", "--iidfile", iid, ctx.dir}, "FROM localhost/busybox\nRUN false\n");
        CHECK(bad.exit_code == 1);
        CHECK_FALSE(kiln::path_exists(iid));
    }
    SECTION("stdin cannot be both the context and the Dockerfile") {
        auto both = kiln({"build", "-f", "-", "-"}, "FROM localhost/busybox\n");
        CHECK(both.exit_code != 0);
        CHECK(both.err.find("can't use stdin for both") != std::string::npos);
    }
}

TEST_CASE("build takes its context from a tarball, a file or stdin, or a bare Dockerfile on stdin",
          "[integration][build][buildcli]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    const std::string tarball = ctx.work.path() + "/ctx.tar.gz";
    REQUIRE(run_command({"tar", "-C", ctx.dir, "-czf", tarball, "."}).exit_code == 0);

    auto from_file = kiln({"build", "-t", "localhost/tarctx:1", tarball});
    INFO(from_file.out << from_file.err);
    REQUIRE(from_file.exit_code == 0);
    CHECK(kiln({"run", "--rm", "localhost/tarctx:1", "cat", "/app/a.txt"}).out == "from the context\n");

    auto from_stdin = kiln({"build", "-q", "-"}, kiln::read_file(tarball));
    INFO(from_stdin.err);
    REQUIRE(from_stdin.exit_code == 0);
    // The same context gives the same image, whichever way it came.
    CHECK(trimmed(from_stdin.out) == trimmed(kiln({"inspect", "-f", "{{.Id}}", "localhost/tarctx:1"}).out));

    auto bare = kiln({"build", "-q", "-t", "localhost/bare:1", "-"}, "FROM localhost/busybox\nRUN echo bare > /bare\n");
    INFO(bare.err);
    REQUIRE(bare.exit_code == 0);
    CHECK(kiln({"run", "--rm", "localhost/bare:1", "cat", "/bare"}).out == "bare\n");

    // A context is a stranger's: its Dockerfile may not lead outside it.
    kiln::TempDir evil_dir("/tmp", "kiln-it-evilctx-");
    REQUIRE(::symlink("/etc/passwd", (evil_dir.path() + "/Dockerfile").c_str()) == 0);
    const std::string evil = ctx.work.path() + "/evil.tar";
    REQUIRE(run_command({"tar", "-C", evil_dir.path(), "-cf", evil, "."}).exit_code == 0);
    auto escaped = kiln({"build", evil});
    CHECK(escaped.exit_code != 0);
    CHECK(escaped.err.find("root:") == std::string::npos);

    auto junk = kiln({"build", ctx.dir + "/a.txt"});
    CHECK(junk.exit_code != 0);
    CHECK(junk.err.find("not a tar archive") != std::string::npos);
}

TEST_CASE("build --output writes the image's files or archives", "[integration][build][buildcli]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    const std::string w = ctx.work.path();

    auto local = kiln({"build", "-q", "-o", "type=local,dest=" + w + "/out", ctx.dir});
    INFO(local.out << local.err);
    REQUIRE(local.exit_code == 0);
    CHECK(kiln::read_file(w + "/out/app/a.txt") == "from the context\n");
    CHECK(kiln::path_exists(w + "/out/bin/busybox"));

    REQUIRE(kiln({"build", "-q", "-o", "type=tar,dest=" + w + "/fs.tar", ctx.dir}).exit_code == 0);
    CHECK(run_command({"tar", "-xOf", w + "/fs.tar", "./app/a.txt"}).out + run_command({"tar", "-xOf", w + "/fs.tar", "app/a.txt"}).out ==
          "from the context\n");

    REQUIRE(kiln({"build", "-q", "-o", "type=oci,dest=" + w + "/oci.tar", ctx.dir}).exit_code == 0);
    CHECK(run_command({"tar", "-tf", w + "/oci.tar"}).out.find("index.json") != std::string::npos);
    REQUIRE(kiln({"build", "-q", "-t", "localhost/dock:1", "-o", "type=docker,dest=" + w + "/docker.tar", ctx.dir}).exit_code == 0);
    CHECK(run_command({"tar", "-tf", w + "/docker.tar"}).out.find("manifest.json") != std::string::npos);

    // -o -: the tar on stdout, every other line on stderr.
    auto piped = kiln({"build", "-o", "-", ctx.dir});
    REQUIRE(piped.exit_code == 0);
    CHECK(piped.out.size() > 1024);
    CHECK(piped.out.substr(257, 5) == "ustar");
    CHECK(piped.err.find("writing image sha256:") != std::string::npos);

    auto unknown = kiln({"build", "-o", "type=s3,dest=x", ctx.dir});
    CHECK(unknown.exit_code != 0);
    CHECK(unknown.err.find("unknown type \"s3\"") != std::string::npos);
}

TEST_CASE("build --add-host, --ulimit and --network reach RUN steps and bad values of them are refused",
          "[integration][build][buildcli]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    const std::string w = ctx.work.path();
    kiln::atomic_write(ctx.dir + "/Dockerfile",
                       "FROM localhost/busybox AS base\nRUN cat /etc/hosts > /hosts.txt && ulimit -n > /nofile.txt\n");
    auto r = kiln({"build", "--add-host", "db.internal:10.1.2.3", "--ulimit", "nofile=200:200", "--network", "none",
                   "-t", "localhost/settings:1", "-o", "type=local,dest=" + w + "/out", ctx.dir});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(kiln::read_file(w + "/out/hosts.txt").find("10.1.2.3\tdb.internal") != std::string::npos);
    CHECK(kiln::read_file(w + "/out/nofile.txt") == "200\n");
    // The base has no /etc/hosts: the mount point made for the bind is not left in the layer.
    CHECK_FALSE(kiln::path_exists(w + "/out/etc/hosts"));
    CHECK(r.out.find("writing image sha256:") != std::string::npos);
    CHECK(r.out.find("Successfully tagged localhost/settings:1") != std::string::npos);

    SECTION("--no-cache-filter rebuilds that stage's steps only") {
        auto cached = kiln({"build", "--add-host", "db.internal:10.1.2.3", "--ulimit", "nofile=200:200", "--network", "none", ctx.dir});
        CHECK(count(cached.out, " CACHED") == 1);
        auto filtered = kiln({"build", "--no-cache-filter", "base", "--add-host", "db.internal:10.1.2.3", "--ulimit",
                              "nofile=200:200", "--network", "none", ctx.dir});
        INFO(filtered.out << filtered.err);
        CHECK(filtered.exit_code == 0);
        CHECK(count(filtered.out, " CACHED") == 0);
    }
    SECTION("a different --add-host is a different RUN") {
        auto other = kiln({"build", "--add-host", "db.internal:10.9.9.9", "--ulimit", "nofile=200:200", "--network", "none", ctx.dir});
        CHECK(count(other.out, " CACHED") == 0);
    }
    SECTION("bad values fail before anything runs") {
        for (std::vector<std::string> args : {std::vector<std::string>{"--platform", "linux/arm64"},
                                              {"--progress", "fancy"},
                                              {"--jobs", "0"},
                                              {"--network", "bridge"},
                                              {"--add-host", "nocolon"},
                                              {"--shm-size", "lots"}}) {
            args.insert(args.begin(), "build");
            args.push_back(ctx.dir);
            auto bad = kiln(args);
            INFO(args[1] << " " << args[2] << ": " << bad.err);
            CHECK(bad.exit_code != 0);
            CHECK(count(bad.err, "\n") == 1);
        }
        auto platform = kiln({"build", "--platform", "linux/arm64", ctx.dir});
        CHECK(platform.err.find("linux/amd64") != std::string::npos);
    }
    SECTION("--progress=quiet prints only the image ID; --jobs and --platform linux/amd64 are accepted") {
        auto quiet = kiln({"build", "--progress=quiet", "--jobs", "4", "--platform", "linux/amd64", "--add-host",
                           "db.internal:10.1.2.3", "--ulimit", "nofile=200:200", "--network", "none", ctx.dir});
        CHECK(quiet.exit_code == 0);
        CHECK(std::regex_match(quiet.out, kImageIdLine));
    }
}
