// kiln attach, start -a, run -d -it / -d -i / -d --rm: a detached container's monitor
// holding its pty or stdin for clients that come and go (docs/SECURITY.md has the socket).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

// A kiln command on a pseudo-terminal of its own (its controlling terminal), which the
// test types into and reads from as a person at that terminal would.
class TerminalSession {
public:
    TerminalSession(const std::vector<std::string>& argv, unsigned short rows, unsigned short cols)
        : terminal_(kiln::test::start_on_terminal(argv, false, rows, cols)) {
        // The child has its copy; the session sees EOF/EIO once the command's side is gone.
        terminal_.slave.reset();
    }
    ~TerminalSession() {
        if (terminal_.pid > 0 && exit_code_ < 0) {
            ::kill(terminal_.pid, SIGKILL);
            ::waitpid(terminal_.pid, nullptr, 0);
        }
    }
    TerminalSession(const TerminalSession&) = delete;
    TerminalSession& operator=(const TerminalSession&) = delete;

    void type(const std::string& keys) { REQUIRE(::write(terminal_.master.get(), keys.data(), keys.size()) == static_cast<ssize_t>(keys.size())); }

    // Reads what the terminal shows until text appears (true) or ms pass.
    bool shows(const std::string& text, int ms = 10000) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (screen_.find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            read_some(50);
        }
        return true;
    }

    // The command's exit code once it ends (-1 if it runs on after ms).
    int exit_code(int ms = 10000) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (exit_code_ < 0 && std::chrono::steady_clock::now() < deadline) {
            read_some(20);
            int status = 0;
            if (::waitpid(terminal_.pid, &status, WNOHANG) == terminal_.pid)
                exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        read_some(0);
        return exit_code_;
    }
    const std::string& screen() const { return screen_; }
    pid_t pid() const { return terminal_.pid; }
    // As a terminal window resized: the kernel sends the command SIGWINCH.
    void resize(unsigned short rows, unsigned short cols) {
        winsize size{};
        size.ws_row = rows;
        size.ws_col = cols;
        REQUIRE(::ioctl(terminal_.master.get(), TIOCSWINSZ, &size) == 0);
    }

private:
    void read_some(int ms) {
        pollfd p{terminal_.master.get(), POLLIN, 0};
        char buf[4096];
        while (::poll(&p, 1, ms) > 0) {
            ssize_t n = ::read(terminal_.master.get(), buf, sizeof buf);
            if (n <= 0) return;
            screen_.append(buf, static_cast<std::size_t>(n));
            ms = 0;
        }
    }
    kiln::test::ProcessOnTerminal terminal_;
    int exit_code_ = -1;
    std::string screen_;
};

std::string state_of(const Kiln& kiln, const std::string& name) {
    return trimmed(kiln({"inspect", "-f", "{{.State.Status}}", name}).out);
}

// `kiln run -d ARGS...` that must succeed; the container's id.
std::string run_detached(const Kiln& kiln, std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d"});
    auto run = kiln(args);
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    REQUIRE(trimmed(run.out).size() == 64);
    return trimmed(run.out);
}

std::string container_dir(const Kiln& kiln, const std::string& id) { return kiln.root.path() + "/containers/" + id; }

}  // namespace

TEST_CASE("run -d -it then attach: typed commands run on the pty, ctrl-p ctrl-q detaches, exit 3 ends attach with 3",
          "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string id = run_detached(kiln, {"-it", "--name", "shell1", "localhost/busybox", "sh"});
    {
        TerminalSession attach(kiln.argv({"attach", "shell1"}), 30, 100);
        // The shell's arithmetic, so the echo of the typed line cannot pass for its output.
        attach.type("echo hi-$((40+2))\r");
        CHECK(attach.shows("hi-42"));
        // The window size reached the container's pty.
        attach.type("stty size\r");
        CHECK(attach.shows("30 100"));
        attach.resize(33, 111);
        // SIGWINCH reaches attach at once, but its frame may follow the typed line: retry.
        CHECK(soon([&] {
            attach.type("stty size\r");
            return attach.shows("33 111", 300);
        }));
        attach.type("\x10\x11");  // ctrl-p ctrl-q
        CHECK(attach.exit_code() == 1);
        CHECK(attach.screen().find("read escape sequence") != std::string::npos);
    }
    CHECK(state_of(kiln, "shell1") == "running");
    CHECK(trimmed(kiln({"ps", "-q", "--no-trunc", "--filter", "name=shell1"}).out) == id);
    // The shell's output while nobody was attached went to the log, one stdout stream.
    CHECK(kiln({"logs", "shell1"}).out.find("hi-42") != std::string::npos);
    {
        TerminalSession attach(kiln.argv({"attach", "shell1"}), 24, 80);
        attach.type("echo again-$((1+2))\r");
        CHECK(attach.shows("again-3"));
        attach.type("exit 3\r");
        CHECK(attach.exit_code() == 3);
    }
    CHECK(soon([&] { return state_of(kiln, "shell1") == "exited"; }));
    CHECK(trimmed(kiln({"inspect", "-f", "{{.State.ExitCode}}", "shell1"}).out) == "3");
    kiln({"rm", "-f", "shell1"});
}

TEST_CASE("attach --detach-keys takes docker's key syntax and refuses a bad one", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    run_detached(kiln, {"-it", "--name", "keys1", "localhost/busybox", "sh"});
    auto bad = kiln({"attach", "--detach-keys", "ctrl-", "keys1"});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("Invalid detach keys (ctrl-) provided") != std::string::npos);
    {
        TerminalSession attach(kiln.argv({"attach", "--detach-keys", "ctrl-x,y", "keys1"}), 24, 80);
        // A ctrl-x not followed by y is the shell's: the line still runs.
        attach.type("echo \x18z-$((5+5))\r");
        CHECK(attach.shows("z-10"));
        attach.type("\x18y");
        CHECK(attach.exit_code() == 1);
    }
    CHECK(state_of(kiln, "keys1") == "running");
    kiln({"rm", "-f", "keys1"});
}

TEST_CASE("run -d -i keeps stdin open for attach, which pipes its input in and exits with the code", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    run_detached(kiln, {"-i", "--name", "piped1", "localhost/busybox", "sh"});
    CHECK(trimmed(kiln({"inspect", "-f", "{{.Config.OpenStdin}} {{.Config.StdinOnce}}", "piped1"}).out) == "true false");
    // Nothing attached yet: the shell waits on its open stdin, it does not read EOF.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(state_of(kiln, "piped1") == "running");
    auto attach = kiln({"attach", "piped1"}, "echo piped-$((1+1)); echo to-stderr >&2\nexit 4\n");
    INFO(attach.err);
    CHECK(attach.exit_code == 4);
    CHECK(attach.out == "piped-2\n");
    CHECK(attach.err == "to-stderr\n");
    kiln({"rm", "-f", "piped1"});
}

TEST_CASE("start -a runs a created container attached from its first byte and returns its exit code", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"create", "--name", "once1", "localhost/busybox", "sh", "-c", "echo first-line; exit 5"}).exit_code == 0);
    auto start = kiln({"start", "-a", "once1"});
    INFO(start.err);
    CHECK(start.exit_code == 5);
    CHECK(start.out == "first-line\n");
    // create -i then start -ai: the input is the container's, and its end closes the
    // container's stdin (Docker's StdinOnce), so the shell ends.
    REQUIRE(kiln({"create", "-i", "--name", "once2", "localhost/busybox", "sh"}).exit_code == 0);
    CHECK(trimmed(kiln({"inspect", "-f", "{{.Config.OpenStdin}} {{.Config.StdinOnce}}", "once2"}).out) == "true true");
    auto interactive = kiln({"start", "-ai", "once2"}, "echo from-stdin-$((2*3))\n");
    INFO(interactive.err);
    CHECK(interactive.exit_code == 0);
    CHECK(interactive.out == "from-stdin-6\n");
    CHECK(kiln({"start", "-a", "once1", "once2"}).exit_code == 1);
    kiln({"rm", "-f", "once1", "once2"});
}

TEST_CASE("run -d --rm: the monitor removes the container, its folder, cgroups and mounts once it exits", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string id = run_detached(kiln, {"--rm", "--name", "gone1", "localhost/busybox", "sh", "-c", "sleep 0.5; exit 2"});
    CHECK(kiln({"ps", "-q", "--no-trunc"}).out.find(id) != std::string::npos);
    CHECK(soon([&] { return kiln({"ps", "-a", "-q", "--no-trunc"}).out.find(id) == std::string::npos; }, 15000));
    CHECK(soon([&] { return !kiln::path_exists(container_dir(kiln, id)); }));
    CHECK(kiln::test::host_traces_gone(id));
    CHECK(kiln({"inspect", id}).exit_code == 1);
    // An attached client still gets the exit code of a --rm container.
    run_detached(kiln, {"--rm", "-i", "--name", "gone2", "localhost/busybox", "sh"});
    CHECK(kiln({"attach", "gone2"}, "exit 6\n").exit_code == 6);
    CHECK(soon([&] { return kiln({"ps", "-a", "-q", "--filter", "name=gone2"}).out.empty(); }, 15000));
}

TEST_CASE("attach to a stopped or missing container is docker's error with exit 1", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"create", "--name", "idle1", "localhost/busybox", "true"}).exit_code == 0);
    auto created = kiln({"attach", "idle1"});
    CHECK(created.exit_code == 1);
    CHECK(created.err.find("You cannot attach to a stopped container, start it first") != std::string::npos);
    REQUIRE(kiln({"start", "-a", "idle1"}).exit_code == 0);
    auto exited = kiln({"attach", "idle1"});
    CHECK(exited.exit_code == 1);
    CHECK(exited.err.find("You cannot attach to a stopped container, start it first") != std::string::npos);
    auto missing = kiln({"attach", "no-such-one"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("No such container: no-such-one") != std::string::npos);
    kiln({"rm", "idle1"});
}

TEST_CASE("the attach socket is root-only on the host and not reachable from inside the container", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string id = run_detached(kiln, {"-it", "--name", "sock1", "localhost/busybox", "sh"});
    const std::string dir = container_dir(kiln, id) + "/attach";
    struct stat st{};
    REQUIRE(::lstat(dir.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0700);
    CHECK(st.st_uid == 0);
    REQUIRE(::lstat((dir + "/attach.sock").c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0600);
    // Searched by name and by the unix sockets the container's kernel view lists.
    auto find = kiln({"exec", "sock1", "sh", "-c", "find / -name attach.sock 2>/dev/null; grep -c attach.sock /proc/net/unix"});
    CHECK(trimmed(find.out) == "0");
    kiln({"rm", "-f", "sock1"});
}

TEST_CASE("attach proxies signals to a container without a tty, and --sig-proxy=false does not", "[attach]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done";
    run_detached(kiln, {"--name", "sig1", "localhost/busybox", "sh", "-c", script});
    REQUIRE(soon([&] { return kiln({"logs", "sig1"}).out == "ready\n"; }));
    {
        TerminalSession attach(kiln.argv({"attach", "--sig-proxy=false", "sig1"}), 24, 80);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ::kill(attach.pid(), SIGTERM);
        CHECK(attach.exit_code() == 128 + SIGTERM);  // attach died; the container did not hear it
    }
    CHECK(state_of(kiln, "sig1") == "running");
    TerminalSession attach(kiln.argv({"attach", "sig1"}), 24, 80);
    // Time to connect and take over the signals (no output to wait for: the log has it).
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ::kill(attach.pid(), SIGTERM);
    CHECK(attach.shows("got-term"));
    CHECK(attach.exit_code() == 7);
    kiln({"rm", "-f", "sig1"});
}
