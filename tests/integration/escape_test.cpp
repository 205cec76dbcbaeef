// Attacks on the host from inside a container, through `kiln run` and `kiln build`, the
// way an untrusted image or Dockerfile would make them. Each test failed on kiln before
// the defence it names (docs/SECURITY.md lists them).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

using kiln::test::HostMarker;
using kiln::test::Kiln;
using kiln::test::run_on_terminal;
using kiln::test::up;

namespace {

// A tmpfs mounted on the host for the life of this object.
struct HostTmpfs {
    std::string path;
    explicit HostTmpfs(std::string where) : path(std::move(where)) {
        kiln::mkdir_p(path);
        if (::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=1m") != 0) kiln::throw_errno("mount tmpfs " + path);
    }
    ~HostTmpfs() { ::umount2(path.c_str(), MNT_DETACH); }
    HostTmpfs(const HostTmpfs&) = delete;
    HostTmpfs& operator=(const HostTmpfs&) = delete;
};

}  // namespace

TEST_CASE("a working directory through a leaked fd never reaches the host: run -w", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    HostMarker marker;
    const std::string attack = "readlink /proc/self/cwd; cat " + up + marker.secret + "; touch " + up + marker.pwned;
    // kiln's own descriptors (the store, SQLite, the image files, pipes) sit at small
    // numbers; 64 covers more than kiln ever holds.
    for (int fd = 3; fd <= 64; ++fd) {
        INFO("fd " << fd);
        auto r = kiln({"run", "--rm", "-w", "/proc/self/fd/" + std::to_string(fd), "localhost/probe", "sh", "-c", attack});
        CHECK(r.exit_code == 125);
        CHECK_FALSE(marker.reached(r.out + r.err));
        CHECK(r.out.find(kiln.root.path()) == std::string::npos);
    }
}

TEST_CASE("a working directory through a leaked fd never reaches the host: WORKDIR in an image",
          "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    HostMarker marker;
    kiln::TempDir context("/tmp", "kiln-escape-ctx-");
    for (int fd = 3; fd <= 64; ++fd) {
        INFO("fd " << fd);
        std::string tag = "localhost/workdir-fd" + std::to_string(fd);
        kiln::atomic_write(context.path() + "/Dockerfile",
                           "FROM localhost/probe\nWORKDIR /proc/self/fd/" + std::to_string(fd) + "\n");
        REQUIRE(kiln({"build", "-q", "-t", tag, context.path()}).exit_code == 0);
        auto r = kiln({"run", "--rm", tag, "sh", "-c", "cat " + up + marker.secret + "; touch " + up + marker.pwned});
        CHECK(r.exit_code == 125);
        CHECK_FALSE(marker.reached(r.out + r.err));
    }
}

TEST_CASE("a working directory through a leaked fd never reaches the host: RUN after WORKDIR",
          "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    HostMarker marker;
    kiln::TempDir context("/tmp", "kiln-escape-ctx-");
    for (int fd = 3; fd <= 64; ++fd) {
        INFO("fd " << fd);
        kiln::atomic_write(context.path() + "/Dockerfile",
                           "FROM localhost/probe\nWORKDIR /proc/self/fd/" + std::to_string(fd) + "\nRUN cat " + up +
                               marker.secret + "; touch " + up + marker.pwned + "\n");
        auto r = kiln({"build", context.path()});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("/proc/self/fd/" + std::to_string(fd)) != std::string::npos);
        CHECK_FALSE(marker.reached(r.out + r.err));
    }
}

TEST_CASE("a working directory through an fd kiln's caller leaked is refused", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    HostMarker marker;
    // Without O_CLOEXEC: kiln inherits it at the same number, as from a careless parent.
    kiln::UniqueFd host_dir(::open(marker.dir.path().c_str(), O_RDONLY | O_DIRECTORY));
    REQUIRE(host_dir);
    auto r = kiln({"run", "--rm", "-w", "/proc/self/fd/" + std::to_string(host_dir.get()), "localhost/probe", "sh",
                   "-c", "cat secret; touch pwned"});
    CHECK(r.exit_code == 125);
    CHECK_FALSE(marker.reached(r.out + r.err));
    // pid 1 is the container itself: its own cwd is inside, so this one is harmless.
    auto own = kiln({"run", "--rm", "-w", "/proc/1/cwd/..", "localhost/probe", "pwd"});
    CHECK(own.exit_code == 0);
    CHECK(own.out == "/\n");
}

TEST_CASE("a container cannot type into the operator's terminal with TIOCSTI", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    // Through stdin, stdout, stderr and /dev/tty: each is how the container could reach
    // the terminal kiln itself was started on. (No newline in the keystrokes, so the
    // script also fits on one Dockerfile line; the shell would run them at the next Enter.)
    const std::string inject = "touch /tmp/kiln-tiocsti-pwned";
    const std::string script = "for fd in 0 1 2; do kiln-probe tiocsti $fd '" + inject +
                               "'; done; kiln-probe tiocsti 3 '" + inject + "' 3</dev/tty; echo done";
    auto run = run_on_terminal(kiln.argv({"run", "--rm", "localhost/probe", "sh", "-c", script}));
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(run.output.find("done") != std::string::npos);
    CHECK(run.output.find("ok 0") == std::string::npos);
    CHECK(run.input_queue.empty());

    kiln::TempDir context("/tmp", "kiln-escape-ctx-");
    kiln::atomic_write(context.path() + "/Dockerfile", "FROM localhost/probe\nRUN " + script + "\n");
    auto build = run_on_terminal(kiln.argv({"build", "--no-cache", context.path()}));
    INFO(build.output);
    CHECK(build.exit_code == 0);
    CHECK(build.output.find("ok 0") == std::string::npos);
    CHECK(build.input_queue.empty());
}

TEST_CASE("the caller's stdout file cannot be changed through /proc/1/fd/1", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    kiln::TempDir dir("/tmp", "kiln-escape-log-");
    const std::string log = dir.path() + "/host.log";
    kiln::atomic_write(log, "keep\n");
    REQUIRE(::chmod(log.c_str(), 0644) == 0);
    std::string command;
    for (const auto& word : kiln.argv({"run", "--rm", "localhost/probe", "sh", "-c",
                                       "chmod 4777 /proc/1/fd/1 /proc/1/fd/2; chown 1:1 /proc/1/fd/1; "
                                       ": > /proc/1/fd/1; echo written"}))
        command += "'" + word + "' ";
    auto r = kiln::test::run_command({"bash", "-c", command + ">> " + log + " 2>> " + log});
    CHECK(r.exit_code == 0);
    struct stat st{};
    REQUIRE(::stat(log.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(st.st_uid == 0);
    CHECK(st.st_gid == 0);
    CHECK(kiln::read_file(log).starts_with("keep\n"));
    CHECK(kiln::read_file(log).find("written\n") != std::string::npos);
}

TEST_CASE("stdin without -i is the container's own /dev/null and with -i a relayed pipe", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    auto r = kiln({"run", "--rm", "localhost/probe", "sh", "-c", "readlink /proc/self/fd/0; cat; echo end"}, "ignored");
    CHECK(r.exit_code == 0);
    CHECK(r.out == "/dev/null\nend\n");
    auto i = kiln({"run", "--rm", "-i", "localhost/probe", "sh", "-c", "cat; echo end"}, "line one\nline two\n");
    CHECK(i.exit_code == 0);
    CHECK(i.out == "line one\nline two\nend\n");
    // A container that stops reading leaves the rest of the input unread, and kiln ends.
    auto head = kiln({"run", "--rm", "-i", "localhost/probe", "head", "-c", "3"}, std::string(1 << 20, 'x'));
    CHECK(head.exit_code == 0);
    CHECK(head.out == "xxx");
}

TEST_CASE("uid and gid 4294967295 are refused, not run as root", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    for (const char* user : {"4294967295:4294967295", "4294967295", "0:4294967295", "2147483648"}) {
        INFO(user);
        auto r = kiln({"run", "--rm", "-u", user, "localhost/probe", "id"});
        CHECK(r.exit_code == 125);
        CHECK(r.out.empty());
        CHECK(r.err.find("uids and gids must be in range 0-2147483647") != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    CHECK(kiln({"run", "--rm", "-u", "2147483647", "localhost/probe", "id", "-u"}).out == "2147483647\n");

    // The same id from an image's USER, at run time and in a later RUN step.
    kiln::TempDir context("/tmp", "kiln-escape-ctx-");
    kiln::atomic_write(context.path() + "/Dockerfile", "FROM localhost/probe\nUSER 4294967295\n");
    REQUIRE(kiln({"build", "-q", "-t", "localhost/bad-user", context.path()}).exit_code == 0);
    auto r = kiln({"run", "--rm", "localhost/bad-user", "id"});
    CHECK(r.exit_code == 125);
    CHECK(r.out.empty());
    kiln::atomic_write(context.path() + "/Dockerfile", "FROM localhost/probe\nUSER 4294967295\nRUN id\n");
    auto b = kiln({"build", context.path()});
    CHECK(b.exit_code == 1);
    CHECK(b.out.find("uid=0") == std::string::npos);
    CHECK(b.err.find("uids and gids must be in range") != std::string::npos);
}

TEST_CASE("RUN --network=host and --security=insecure need --allow, as in BuildKit", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    kiln::TempDir context("/tmp", "kiln-escape-ctx-");
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM localhost/probe\nRUN echo first-step\nRUN --network=host ls /sys/class/net\n");
    auto denied = kiln({"build", context.path()});
    CHECK(denied.exit_code == 1);
    CHECK(denied.err.find("Dockerfile:3:5: network.host is not allowed") != std::string::npos);
    CHECK(denied.out.find("first-step") == std::string::npos);  // refused before any step ran
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());

    auto allowed = kiln({"build", "--allow", "network.host", context.path()});
    CHECK(allowed.exit_code == 0);
    // The host's interfaces, where the sandbox has only lo: each an output line of the step
    // ("#N 0.012 eth0"). Containers of other tests come and go with their veths.
    for (const auto& name : kiln::test::dir_entries("/sys/class/net"))
        if (!name.starts_with("veth")) CHECK(allowed.out.find(" " + name + "\n") != std::string::npos);

    kiln::atomic_write(context.path() + "/Dockerfile", "FROM localhost/probe\nRUN --security=insecure true\n");
    auto insecure = kiln({"build", context.path()});
    CHECK(insecure.exit_code == 1);
    CHECK(insecure.err.find("security.insecure is not allowed") != std::string::npos);
    CHECK(kiln({"build", "--allow", "network.hots", context.path()}).exit_code == 125);
}

TEST_CASE("a read-only volume is read-only in its submounts too", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    kiln::TempDir dir("/tmp", "kiln-escape-vol-");
    HostTmpfs submount(dir.path() + "/sub");
    auto r = kiln({"run", "--rm", "-v", dir.path() + ":/data:ro", "localhost/probe", "sh", "-c",
                   "touch /data/top; touch /data/sub/f; echo > /data/sub/g; ls /data/sub | wc -l"});
    CHECK(r.out == "0\n");
    CHECK(r.err.find("/data/top: Read-only file system") != std::string::npos);
    CHECK(r.err.find("/data/sub/f: Read-only file system") != std::string::npos);
    CHECK_FALSE(kiln::path_exists(dir.path() + "/sub/f"));
    CHECK_FALSE(kiln::path_exists(dir.path() + "/sub/g"));
}

TEST_CASE("bad run flag values are one-line errors before anything is created", "[integration][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    auto snapshots = kiln::test::dir_entries(kiln.root.path() + "/snapshots");
    for (std::vector<std::string> flags : {std::vector<std::string>{"-m", "nan"}, {"-m", "0x10m"}, {"-m", "inf"},
                                           {"--cpus", "nan"}, {"--cpus", "1e0"}, {"--pids-limit", "0x10"},
                                           {"--pids-limit", "-5"}, {"-u", "4294967295"}, {"-v", "rel/ative:/x"}}) {
        INFO(flags[0] << " " << flags[1]);
        std::vector<std::string> args{"run", "--rm"};
        args.insert(args.end(), flags.begin(), flags.end());
        args.insert(args.end(), {"localhost/probe", "true"});
        auto r = kiln(args);
        CHECK(r.exit_code == 125);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots") == snapshots);
    }
    // Flags that take a value take exactly one: the image and its command stay theirs.
    auto r = kiln({"run", "--rm", "-e", "A=1", "-v", "/tmp:/host-tmp:ro", "localhost/probe", "sh", "-c", "echo $A"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "1\n");
}
