#pragma once
// Shared helpers for integration tests: root detection, a busybox root filesystem, and
// running a command with captured output.
#include <set>
#include <string>
#include <vector>

#include "runtime/container.hpp"
#include "util/fs.hpp"

namespace kiln::test {

// True when the tests run as root (needed for namespaces, mounts and cgroups).
bool is_root();

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

// Imports the base, then builds localhost/probe: busybox plus /bin/kiln-probe.
void import_probe_image(const Kiln& kiln);

// Names in dir (empty if it does not exist).
std::set<std::string> dir_entries(const std::string& dir);

}  // namespace kiln::test
