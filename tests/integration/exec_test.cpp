// kiln exec: a process joining a running container (run -d) from a later kiln process,
// and the attacks a container could make on it while it joins (docs/SECURITY.md).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::HostMarker;
using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;
using kiln::test::up;

// A container running `sleep 1000` under its monitor, stopped and removed at the end.
struct RunningContainer {
    const Kiln& kiln;
    std::string name;
    std::string id;
    RunningContainer(const Kiln& k, std::string container_name, std::vector<std::string> run_flags = {},
                     const std::string& image = "localhost/busybox")
        : kiln(k), name(std::move(container_name)) {
        std::vector<std::string> args = {"run", "-d", "--name", name};
        args.insert(args.end(), run_flags.begin(), run_flags.end());
        args.insert(args.end(), {image, "sleep", "1000"});
        auto r = kiln(args);
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        id = trimmed(r.out);
    }
    ~RunningContainer() { kiln({"rm", "-f", name}); }
    RunningContainer(const RunningContainer&) = delete;
    RunningContainer& operator=(const RunningContainer&) = delete;
};

// The "Key:\tvalue" lines of a /proc/PID/status text that confinement shows in.
std::string confinement_fields(const std::string& status) {
    std::istringstream in(status);
    std::string line, out;
    while (std::getline(in, line))
        for (const char* key : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"})
            if (line.starts_with(key)) out += line + "\n";
    return out;
}

}  // namespace

TEST_CASE("exec runs in the container: its hostname, files and processes, none of the host's", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1", {"--hostname", "webhost"});
    CHECK(kiln({"exec", "web1", "sh", "-c", "echo from-exec > /tmp/made"}).exit_code == 0);
    auto r = kiln({"exec", web.id.substr(0, 8), "sh", "-c", "hostname; cat /tmp/made; tr '\\0' ' ' < /proc/1/cmdline"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "webhost\nfrom-exec\nsleep 1000 ");

    // Only the container's processes: its init, this shell and ls (pids from 1 up), never
    // the init's host pid or kiln's.
    auto procs = kiln({"exec", "web1", "sh", "-c", "ls /proc | grep -E '^[0-9]+$'"});
    CHECK(procs.exit_code == 0);
    std::set<int> pids;
    std::istringstream in(procs.out);
    for (std::string line; std::getline(in, line);) pids.insert(std::stoi(line));
    const int host_pid = std::stoi(trimmed(kiln({"inspect", "-f", "{{.State.Pid}}", "web1"}).out));
    CHECK(pids.count(1) == 1);
    CHECK(pids.size() <= 5);
    CHECK(*pids.rbegin() < 100);
    CHECK(pids.count(host_pid) == 0);
    CHECK(pids.count(static_cast<int>(::getpid())) == 0);
}

TEST_CASE("exec -e, -u, -w, -i over the container's own env, user and working directory", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1", {"-e", "KEPT=1", "-e", "OVER=old", "-w", "/srv", "-u", "nobody"});
    auto own = kiln({"exec", "web1", "sh", "-c", "echo $KEPT $OVER $HOME $HOSTNAME; id -un; pwd"});
    INFO(own.err);
    CHECK(own.out == "1 old /nonexistent " + web.id.substr(0, 12) + "\nnobody\n/srv\n");

    auto flags = kiln({"exec", "-e", "OVER=new", "-e", "ADDED=2", "-u", "root", "-w", "/tmp", "web1", "sh", "-c",
                       "echo $KEPT $OVER $ADDED $HOME; id -u; pwd"});
    INFO(flags.err);
    CHECK(flags.out == "1 new 2 /root\n0\n/tmp\n");
    CHECK(kiln({"exec", "-u", "1234:5678", "web1", "id"}).out == "uid=1234 gid=5678\n");

    auto in = kiln({"exec", "-i", "web1", "sh", "-c", "cat; echo end"}, "line one\nline two\n");
    CHECK(in.out == "line one\nline two\nend\n");
    // Without -i stdin is the container's /dev/null, as for run.
    CHECK(kiln({"exec", "web1", "sh", "-c", "cat; readlink /proc/self/fd/0"}, "ignored").out == "/dev/null\n");
    // exec creates no working directory (Docker's exec neither).
    auto missing = kiln({"exec", "-w", "/no/such/dir", "web1", "true"});
    CHECK(missing.exit_code == 125);
    CHECK(missing.err.find("/no/such/dir") != std::string::npos);
}

TEST_CASE("exec -t runs on a terminal of its own", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    auto r = kiln::test::run_on_terminal(
        kiln.argv({"exec", "-t", "web1", "sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo on-a-tty"}));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("on-a-tty\r\n") != std::string::npos);  // the pty's line discipline: \n → \r\n
    CHECK(r.input_queue.empty());
    // Without -t, even on the operator's terminal, no terminal at all.
    auto plain = kiln::test::run_on_terminal(kiln.argv({"exec", "web1", "sh", "-c", "test -t 0 || test -t 1 || echo no-tty"}));
    CHECK(plain.output.find("no-tty") != std::string::npos);
}

TEST_CASE("exec exit codes are Docker's: the command's, 126, 127, 128+N, 125, and 1 for no such container",
          "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    CHECK(kiln({"exec", "web1", "sh", "-c", "exit 3"}).exit_code == 3);
    auto missing = kiln({"exec", "web1", "nosuchcommand"});
    CHECK(missing.exit_code == 127);
    CHECK(missing.err == "exec: \"nosuchcommand\": executable file not found in $PATH\n");
    auto denied = kiln({"exec", "web1", "/etc/passwd"});
    CHECK(denied.exit_code == 126);
    CHECK(denied.err == "exec: \"/etc/passwd\": permission denied\n");
    CHECK(kiln({"exec", "web1", "sh", "-c", "kill -USR1 $$"}).exit_code == 128 + SIGUSR1);
    CHECK(kiln({"exec", "--bogus-flag", "web1", "true"}).exit_code == 125);
    CHECK(kiln({"exec", "web1"}).exit_code == 125);
    auto none = kiln({"exec", "nosuchcontainer", "true"});
    CHECK(none.exit_code == 1);
    CHECK(none.err == "kiln: No such container: nosuchcontainer\n");
}

TEST_CASE("exec into a stopped container fails cleanly", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    REQUIRE(kiln({"kill", "web1"}).exit_code == 0);
    REQUIRE(soon([&] { return trimmed(kiln({"inspect", "-f", "{{.State.Status}}", "web1"}).out) == "exited"; }));
    auto r = kiln({"exec", "web1", "true"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "kiln: container " + web.id + " is not running\n");
    // A created container that never ran, too.
    auto created = kiln({"create", "--name", "fresh", "localhost/busybox", "true"});
    REQUIRE(created.exit_code == 0);
    CHECK(kiln({"exec", "fresh", "true"}).exit_code == 1);
    kiln({"rm", "fresh"});
}

TEST_CASE("exec -d leaves the command running under the container's init", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    auto start = std::chrono::steady_clock::now();
    auto r = kiln({"exec", "-d", "web1", "sleep", "999"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
    CHECK(soon([&] {
        return kiln({"exec", "web1", "ps", "-o", "ppid,args"}).out.find("    1 sleep 999") != std::string::npos;
    }));
    // Its stdio is the container's /dev/null.
    const std::string record = "echo $(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/1) $(readlink /proc/$$/fd/2) > /tmp/fds";
    REQUIRE(kiln({"exec", "-d", "web1", "sh", "-c", record}).exit_code == 0);
    CHECK(soon([&] { return kiln({"exec", "web1", "cat", "/tmp/fds"}).out == "/dev/null /dev/null /dev/null\n"; }));
}

TEST_CASE("exec -d -t gives the command a terminal that stays writable with nobody attached", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    // Without a holder of the master end, the first echo fails (EIO) and sh never gets
    // to write /tmp/done.
    const std::string script = "[ -t 1 ] && echo yes > /tmp/tty; for i in 1 2 3; do echo line $i || exit 9; done; echo ok > /tmp/done";
    auto r = kiln({"exec", "-d", "-t", "web1", "sh", "-c", script});
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(soon([&] { return kiln({"exec", "web1", "cat", "/tmp/done"}).out == "ok\n"; }));
    CHECK(kiln({"exec", "web1", "cat", "/tmp/tty"}).out == "yes\n");
}

TEST_CASE("exec -d -i runs as docker's does: stdin is not attached, the command reads end of file", "[exec]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    auto r = kiln({"exec", "-d", "-i", "web1", "sh", "-c", "cat > /tmp/in; readlink /proc/$$/fd/0 > /tmp/stdin"},
                  "typed but never delivered\n");
    CHECK(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(soon([&] { return kiln({"exec", "web1", "cat", "/tmp/stdin"}).out == "/dev/null\n"; }));
    CHECK(kiln({"exec", "web1", "cat", "/tmp/in"}).out.empty());
    // With -t as well: a terminal that stays writable, and still no input.
    auto t = kiln({"exec", "-d", "-i", "-t", "web1", "sh", "-c", "[ -t 0 ] && echo tty > /tmp/t2"});
    CHECK(t.exit_code == 0);
    CHECK(soon([&] { return kiln({"exec", "web1", "cat", "/tmp/t2"}).out == "tty\n"; }));
}

TEST_CASE("a working directory through a leaked fd never reaches the host: exec -w", "[exec][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    HostMarker marker;
    const std::string attack = "readlink /proc/self/cwd; cat " + up + marker.secret + "; touch " + up + marker.pwned;
    // The joining processes hold kiln's store files, the cgroup directory, the init's
    // pidfd and pipes at small numbers; 64 covers more than kiln ever holds.
    for (int fd = 3; fd <= 64; ++fd) {
        INFO("fd " << fd);
        auto r = kiln({"exec", "-w", "/proc/self/fd/" + std::to_string(fd), "web1", "sh", "-c", attack});
        CHECK(r.exit_code == 125);
        CHECK_FALSE(marker.reached(r.out + r.err));
        CHECK(r.out.find(kiln.root.path()) == std::string::npos);
    }
}

TEST_CASE("an exec starts with only stdin, stdout and stderr open", "[exec][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    // Without O_CLOEXEC, so `kiln exec` inherits it, as from a careless parent; kiln's own
    // store files, pidfd and cgroup fd are open in the joining processes too.
    kiln::UniqueFd leaked(::open("/tmp", O_RDONLY | O_DIRECTORY));
    REQUIRE(leaked);
    // The shell lists its own table from a child (ls is not its last command, so it is
    // not exec'd in place).
    auto r = kiln({"exec", "web1", "sh", "-c", "ls /proc/$$/fd; exit 0"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "0\n1\n2\n");
    auto links = kiln({"exec", "web1", "sh", "-c", "readlink /proc/$$/fd/0; readlink /proc/$$/fd/1; exit 0"});
    CHECK(links.out.find("pipe:[") != std::string::npos);
    CHECK(links.out.find("/tmp") == std::string::npos);
}

TEST_CASE("exec gets the confinement of the container's own process", "[exec][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    RunningContainer web(kiln, "web1");
    auto r = kiln({"exec", "web1", "sh", "-c", "cat /proc/self/status; echo ==; cat /proc/1/status"});
    REQUIRE(r.exit_code == 0);
    auto split = r.out.find("==\n");
    const std::string own = confinement_fields(r.out.substr(0, split));
    const std::string init = confinement_fields(r.out.substr(split + 3));
    CHECK(own.find("Seccomp:\t2\n") != std::string::npos);
    CHECK(own.find("NoNewPrivs:\t1\n") != std::string::npos);
    CHECK(own.find("CapEff:\t00000000a80425fb\n") != std::string::npos);
    CHECK(own == init);

    // A non-root user: no capabilities, the same bounding set.
    auto nobody = kiln({"exec", "-u", "nobody", "web1", "cat", "/proc/self/status"});
    const std::string fields = confinement_fields(nobody.out);
    CHECK(fields.find("CapEff:\t0000000000000000\n") != std::string::npos);
    CHECK(fields.find("CapBnd:\t00000000a80425fb\n") != std::string::npos);
    CHECK(fields.find("Seccomp:\t2\n") != std::string::npos);

    // The profile the container was created with, not the default: here none.
    RunningContainer open(kiln, "open", {"--security-opt", "seccomp=unconfined"});
    auto unconfined = kiln({"exec", "open", "cat", "/proc/self/status"});
    CHECK(confinement_fields(unconfined.out).find("Seccomp:\t0\n") != std::string::npos);
}

TEST_CASE("an exec cannot type into the operator's terminal with TIOCSTI", "[exec][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    RunningContainer web(kiln, "web1", {}, "localhost/probe");
    const std::string inject = "touch /tmp/kiln-tiocsti-pwned";
    const std::string script = "for fd in 0 1 2; do kiln-probe tiocsti $fd '" + inject +
                               "'; done; kiln-probe tiocsti 3 '" + inject + "' 3</dev/tty; echo done";
    auto plain = kiln::test::run_on_terminal(kiln.argv({"exec", "-i", "web1", "sh", "-c", script}));
    INFO(plain.output);
    CHECK(plain.exit_code == 0);
    CHECK(plain.output.find("done") != std::string::npos);
    CHECK(plain.output.find("ok 0") == std::string::npos);
    CHECK(plain.input_queue.empty());
    // With -t the keystrokes land in the exec's own pty, never in the operator's.
    auto tty = kiln::test::run_on_terminal(kiln.argv({"exec", "-t", "web1", "sh", "-c", script}));
    INFO(tty.output);
    CHECK(tty.output.find("done") != std::string::npos);
    CHECK(tty.input_queue.empty());
}
