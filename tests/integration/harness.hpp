#pragma once
// Shared helpers for integration tests: root detection, a busybox root filesystem, and
// running a command with captured output.
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

// Integration tests need root (namespaces, mounts, cgroups); as another user each one says
// so and passes. Catch2's WARN, so the file using it includes catch.hpp.
#define SKIP_UNLESS_ROOT()                                          \
    do {                                                            \
        if (!kiln::test::is_root()) {                               \
            WARN("skipped: needs root (namespaces, mounts, cgroups)"); \
            return;                                                 \
        }                                                           \
    } while (0)

// Tests of interop with another tool (skopeo, podman, umoci) say so and pass without it.
#define SKIP_UNLESS_TOOL(name)                                                       \
    do {                                                                             \
        if (!kiln::test::have_tool(name)) {                                          \
            WARN("skipped: " name " is not installed (scripts/setup installs it)"); \
            return;                                                                  \
        }                                                                            \
    } while (0)

namespace kiln::test {

// True when the tests run as root (needed for namespaces, mounts and cgroups).
bool is_root();

// True when `name` is a command on PATH.
bool have_tool(const std::string& name);

// Fills `dir` (created if missing) with a busybox root filesystem made from Debian's
// static /bin/busybox (package busybox-static): one symlink per applet from
// `busybox --list-full`, /etc/passwd with root and nobody, /etc/group with root and
// nogroup, /bin/kiln-probe, and the usual empty directories (dev, proc, sys, tmp, ...). Returns `dir`.
std::string make_busybox_rootfs(const std::string& dir);

// The static attack probe (tests/integration/probe/kiln_probe.c): `kiln-probe syscall NR
// [ARG...]`, `kiln-probe tiocsti FD TEXT`. make_busybox_rootfs installs it as
// /bin/kiln-probe.
const std::string& probe_binary();

// One busybox rootfs per test process, built on first use and removed at exit. Tests
// that only read it (e.g. as an overlay lowerdir or a read-only bind) share it.
const std::string& shared_busybox_rootfs();

struct CommandResult {
    int exit_code = -1;  // the exit code, or 128+signal if killed
    std::string out;
    std::string err;
};

// A container on an overlay over the shared busybox rootfs, so every test may write to
// its "/" without touching the others.
struct Sandbox {
    TempDir dir{"/tmp", "kiln-runtime-test-"};
    runtime::ContainerSpec spec;

    explicit Sandbox(std::vector<std::string> args);
};

struct Output {
    int code;
    std::string out, err;
};

// Runs the spec with run_container, stdout and stderr captured in memory files.
Output run(runtime::ContainerSpec spec);

// Runs argv (argv[0] looked up in PATH) with stdin_data on its stdin and returns its exit
// code and everything it wrote to stdout and stderr. Throws kiln::Error if it cannot start.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data = "");

// The kiln binary under test with a store of its own (removed with this object).
struct Kiln {
    TempDir root{"/tmp", "kiln-it-root-"};

    CommandResult operator()(std::vector<std::string> args, const std::string& input = "") const;
    // The argv that runs `kiln --root ROOT args...` (for tests that spawn it themselves).
    std::vector<std::string> argv(std::vector<std::string> args) const;
};

// The busybox base tarball from scripts/make-busybox-rootfs, made once per test process.
const std::string& busybox_tarball();

// Imports busybox_tarball() as localhost/busybox:latest (fails the test otherwise).
void import_base(const Kiln& kiln);

// Imports the base, then builds `name`: busybox plus a layer of its own (/marker, CMD cat /marker).
void build_small_image(const Kiln& kiln, const std::string& name);

// Imports the base, then builds localhost/probe: busybox plus /bin/kiln-probe.
void import_probe_image(const Kiln& kiln);

// Enough "../" to climb from any directory to "/" of whatever filesystem it is in.
inline const std::string up = "../../../../../../../../../../../../../../../..";

// A file on the host that no container may read, and a name no container may create.
struct HostMarker {
    TempDir dir{"/tmp", "kiln-escape-"};
    std::string secret = dir.path() + "/secret";
    std::string pwned = dir.path() + "/pwned";
    HostMarker() { atomic_write(secret, "host-secret-4f1d\n"); }
    bool reached(const std::string& output) const {
        return output.find("host-secret-4f1d") != std::string::npos || path_exists(pwned);
    }
};

// Runs argv on a new pseudo-terminal that is its controlling terminal, like a command
// typed in an operator's shell. Returns everything written to the terminal and the exit
// code; `input_queue` gets what is left unread in the terminal's input queue afterwards:
// what a shell reading that terminal would run next.
struct TerminalRun {
    int exit_code = -1;
    std::string output;
    std::string input_queue;
};

TerminalRun run_on_terminal(const std::vector<std::string>& argv);

// argv started on a new pseudo-terminal, its controlling terminal (raw: in raw mode; rows
// above 0: that window size). The caller reads and writes master and reaps pid.
struct ProcessOnTerminal {
    UniqueFd master, slave;
    pid_t pid = -1;
};
ProcessOnTerminal start_on_terminal(const std::vector<std::string>& argv, bool raw, unsigned short rows = 0,
                                    unsigned short cols = 0);

// s without trailing newlines, carriage returns and spaces (a command's output line).
std::string trimmed(std::string s);

// What RUN steps printed in `kiln build` output: each "#N 0.123 text" line as "text\n".
std::string build_step_output(const std::string& build_out);

// `kiln run --rm FLAGS... localhost/busybox sh -c SCRIPT`.
CommandResult sh(const Kiln& kiln, std::vector<std::string> flags, const std::string& script);

// Polls pred every 10 ms until it holds, for at most ms milliseconds; returns its last answer.
template <class Pred>
bool soon(Pred pred, int ms = 5000) {
    for (int i = 0; i < ms / 10; ++i) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

// `kiln inspect -f format name`, trimmed.
std::string inspect_value(const Kiln& kiln, const std::string& name, const std::string& format);

// Whether nothing a container `id` leaves on the host while it exists is left: its cgroup
// in every hierarchy, its runtime dir, a mount naming it, its bridge veth.
bool host_traces_gone(const std::string& id);

// Names in dir (empty if it does not exist).
std::set<std::string> dir_entries(const std::string& dir);

}  // namespace kiln::test
