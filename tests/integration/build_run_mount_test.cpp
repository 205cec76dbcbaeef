// RUN --mount: cache directories that outlive builds and stay out of layers, binds of the
// context (part of the cache key) and of stages, tmpfs, secrets that leave no trace, and
// a forwarded ssh agent socket.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>

#include "harness.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;
using kiln::test::run_command;
using kiln::test::trimmed;

namespace {

struct Context {
    kiln::TempDir work{"/tmp", "kiln-it-runmount-"};
    std::string dir = work.path() + "/ctx";
    Context() { kiln::mkdir_p(dir); }
    void write(const std::string& rel, const std::string& text) const {
        kiln::mkdir_p(dir + "/" + rel.substr(0, rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/')));
        kiln::atomic_write(dir + "/" + rel, text);
    }
};

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

std::string cat_in(const Kiln& kiln, const std::string& image, const std::string& path) {
    return kiln({"run", "--rm", image, "cat", path}).out;
}

// Whether any file below dir holds text (grep -r, binary files included).
bool tree_holds(const std::string& dir, const std::string& text) {
    return run_command({"grep", "-r", "-l", "-a", "-F", text, dir}).exit_code == 0;
}

// kiln ARGS..., which must succeed.
kiln::test::CommandResult succeed(const Kiln& kiln, const std::vector<std::string>& args) {
    auto r = kiln(args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
}

}  // namespace

TEST_CASE("RUN --mount=type=cache persists across builds, stays out of the image and goes with cache prune",
          "[integration][build][runmount]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    ctx.write("Dockerfile",
              "FROM localhost/busybox\n"
              "COPY a.txt /a.txt\n"
              "RUN --mount=type=cache,target=/cache --mount=type=cache,id=lk,target=/locked,sharing=locked,mode=0700 "
              "sh -c 'ls /cache > /seen; echo hi > /cache/stamp-$(cat /a.txt); touch /locked/l; stat -c %a /locked > /mode'\n");
    ctx.write("a.txt", "one");
    succeed(kiln, {"build", "-t", "localhost/cm:1", ctx.dir});
    CHECK(cat_in(kiln, "localhost/cm:1", "/seen") == "");
    CHECK(cat_in(kiln, "localhost/cm:1", "/mode") == "700\n");

    ctx.write("a.txt", "two");
    succeed(kiln, {"build", "-t", "localhost/cm:2", ctx.dir});
    CHECK(cat_in(kiln, "localhost/cm:2", "/seen") == "stamp-one\n");
    // Neither its contents nor its mount point are in the layer (BuildKit removes mount stubs).
    auto listing = kiln({"run", "--rm", "localhost/cm:2", "ls", "-A", "/cache", "/locked"});
    CHECK(listing.exit_code != 0);
    CHECK(listing.out.find("stamp") == std::string::npos);
    CHECK(listing.err.find("No such file or directory") != std::string::npos);
    CHECK(run_command({"find", kiln.root.path() + "/layers", "-name", "stamp-*"}).out.empty());

    auto du = kiln({"cache", "du", "--verbose"});
    CHECK(du.out.find("exec.cachemount") != std::string::npos);
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/cache-mounts").size() == 2);
    auto prune = kiln({"cache", "prune", "-a", "-f"});
    INFO(prune.out << prune.err);
    CHECK(prune.exit_code == 0);
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/cache-mounts").empty());
}

TEST_CASE("RUN --mount=type=bind reads the context (a change misses), rw writes vanish, from= a stage, and tmpfs",
          "[integration][build][runmount]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    ctx.write("Dockerfile",
              "FROM localhost/busybox AS tools\n"
              "RUN echo tool > /tool.txt\n"
              "FROM localhost/busybox\n"
              "RUN --mount=type=bind,source=conf,target=/conf cat /conf/v.txt > /copied\n"
              "RUN --mount=type=bind,target=/ctx,rw sh -c 'echo scribble > /ctx/conf/v.txt && rm /ctx/Dockerfile'\n"
              "RUN --mount=type=bind,from=tools,source=/tool.txt,target=/t.txt cp /t.txt /tool-copy\n"
              "RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo x > /scratch/f && grep -q \" /scratch tmpfs \" /proc/mounts'\n"
              "RUN --mount=type=bind,target=/ro sh -c 'echo no > /ro/x' && echo writable || echo read-only > /ro-result\n");
    ctx.write("conf/v.txt", "v1\n");
    succeed(kiln, {"build", "-t", "localhost/bind:1", ctx.dir});
    CHECK(cat_in(kiln, "localhost/bind:1", "/copied") == "v1\n");
    CHECK(cat_in(kiln, "localhost/bind:1", "/tool-copy") == "tool\n");
    CHECK(cat_in(kiln, "localhost/bind:1", "/ro-result") == "read-only\n");
    CHECK(kiln::read_file(ctx.dir + "/conf/v.txt") == "v1\n");  // rw wrote to a throwaway copy
    CHECK(kiln::path_exists(ctx.dir + "/Dockerfile"));
    auto scratch = kiln({"run", "--rm", "localhost/bind:1", "ls", "-A", "/scratch"});
    CHECK(scratch.out.empty());

    auto cached = kiln({"build", "-t", "localhost/bind:1", ctx.dir});
    CHECK(count(cached.out, "CACHED") == 6);
    ctx.write("conf/v.txt", "v2\n");
    auto changed = succeed(kiln, {"build", "-t", "localhost/bind:2", ctx.dir});
    CHECK(count(changed.out, "CACHED") == 1);  // only the tools stage's RUN
    CHECK(cat_in(kiln, "localhost/bind:2", "/copied") == "v2\n");
}

TEST_CASE("RUN --mount=type=secret from a file and from the environment leaves no trace",
          "[integration][build][runmount]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    const std::string file_value = "s3cr3t-from-file-8c1f", env_value = "s3cr3t-from-env-77ab";
    const std::string secret_file = ctx.work.path() + "/secret.txt";
    kiln::atomic_write(secret_file, file_value);
    ::setenv("KILN_RUNMOUNT_TOKEN", env_value.c_str(), 1);
    // The expected values come through a bind: in the Dockerfile they would be in history.
    ctx.write("expect-x", file_value);
    ctx.write("expect-tok", env_value);
    ctx.write("Dockerfile",
              "FROM localhost/busybox\n"
              "RUN --mount=type=secret,id=x --mount=type=bind,target=/ctx cat /run/secrets/x > /dev/null && "
              "test \"$(cat /run/secrets/x)\" = \"$(cat /ctx/expect-x)\"\n"
              "RUN --mount=type=secret,id=tok,env=TOK --mount=type=bind,target=/ctx test \"$TOK\" = \"$(cat /ctx/expect-tok)\"\n"
              "RUN --mount=type=secret,id=x,target=/etc/x.key,mode=0440,uid=65534 test \"$(stat -c '%a %u' /etc/x.key)\" = '440 65534'\n"
              "RUN --mount=type=secret,id=absent true\n");
    const std::vector<std::string> secrets = {"--secret", "id=x,src=" + secret_file, "--secret", "id=tok,env=KILN_RUNMOUNT_TOKEN"};
    std::vector<std::string> args = {"build", "-t", "localhost/secret:1"};
    args.insert(args.end(), secrets.begin(), secrets.end());
    args.push_back(ctx.dir);
    auto built = succeed(kiln, args);
    CHECK(built.out.find(file_value) == std::string::npos);
    CHECK(built.out.find(env_value) == std::string::npos);

    CHECK(kiln({"run", "--rm", "localhost/secret:1", "ls", "/run/secrets"}).exit_code != 0);
    CHECK(kiln({"run", "--rm", "localhost/secret:1", "ls", "/etc/x.key"}).exit_code != 0);
    auto history = kiln({"history", "--no-trunc", "localhost/secret:1"});
    CHECK(history.exit_code == 0);
    CHECK(history.out.find(file_value) == std::string::npos);
    CHECK(history.out.find(env_value) == std::string::npos);
    CHECK_FALSE(tree_holds(kiln.root.path(), file_value));
    CHECK_FALSE(tree_holds(kiln.root.path(), env_value));

    // A secret's value is no cache input (BuildKit).
    kiln::atomic_write(secret_file, "another-value");
    auto again = kiln(args);
    CHECK(count(again.out, "CACHED") == 4);

    SECTION("a required secret the build lacks fails at its line and column") {
        ctx.write("Dockerfile", "FROM localhost/busybox\nRUN --mount=type=secret,id=nope,required=true true\n");
        auto missing = kiln({"build", ctx.dir});
        CHECK(missing.exit_code != 0);
        CHECK(missing.err.find("Dockerfile:2:5: secret nope: not provided") != std::string::npos);
    }
    ::unsetenv("KILN_RUNMOUNT_TOKEN");
}

TEST_CASE("RUN --mount bad input is a one-line error at file:line:col and the store keeps no cache mount",
          "[integration][build][runmount]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    struct Case {
        std::string run, message;
    };
    const Case cases[] = {
        {"RUN --mount=type=bind,source=../x,target=/x true", "Dockerfile:3:5: --mount source ../x is outside the build context"},
        {"RUN --mount=type=bind,source=nothing,target=/x true", "Dockerfile:3:5: --mount source nothing: not found in the build context"},
        {"RUN --mount=type=bind,from=nowhere,target=/x true", "Dockerfile:3:5: --mount from=nowhere: no such stage"},
        {"RUN --mount=type=cache,target=/c,sharing=$S true", "Dockerfile:3:5: unsupported sharing value \"sometimes\""},
        {"RUN --mount=type=$T,target=/c true", "Dockerfile:3:5: unsupported mount type \"volume\""},
        {"RUN --mount=type=tmpfs true", "needs a target"},
    };
    for (const auto& c : cases) {
        ctx.write("Dockerfile", "FROM localhost/busybox\nARG S=sometimes T=volume\n" + c.run + "\n");
        auto r = kiln({"build", "--pull=never", ctx.dir});
        INFO(c.run << "\n" << r.out << r.err);
        CHECK(r.exit_code != 0);
        CHECK(r.err.find(c.message) != std::string::npos);
    }
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/cache-mounts").empty());
}

TEST_CASE("RUN --mount=type=ssh forwards the agent socket and sets SSH_AUTH_SOCK", "[integration][build][runmount]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    Context ctx;
    const std::string socket_path = ctx.work.path() + "/agent.sock";
    kiln::UniqueFd agent(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(agent);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
    REQUIRE(::bind(agent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(agent.get(), 4) == 0);
    ctx.write("Dockerfile",
              "FROM localhost/busybox\n"
              "RUN --mount=type=ssh test \"$SSH_AUTH_SOCK\" = /run/buildkit/ssh_agent.0 && test -S \"$SSH_AUTH_SOCK\"\n"
              "RUN --mount=type=ssh,id=other,required=true test -S /run/buildkit/ssh_agent.0\n");
    auto built = kiln({"build", "-t", "localhost/ssh:1", "--ssh", "default=" + socket_path, "--ssh", "other=" + socket_path, ctx.dir});
    INFO(built.out << built.err);
    CHECK(built.exit_code == 0);
    CHECK(kiln({"run", "--rm", "localhost/ssh:1", "ls", "/run/buildkit"}).exit_code != 0);

    auto missing = kiln({"build", "--no-cache", "--ssh", "default=" + socket_path, ctx.dir});
    CHECK(missing.exit_code != 0);
    CHECK(missing.err.find("Dockerfile:3:5: ssh agent other: not provided") != std::string::npos);
    auto not_socket = kiln({"build", "--ssh", "default=" + ctx.dir + "/Dockerfile", ctx.dir});
    CHECK(not_socket.exit_code != 0);
    CHECK(not_socket.err.find("is not a socket") != std::string::npos);
}
