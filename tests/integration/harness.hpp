#pragma once
// Shared helpers for integration tests: root detection, a busybox root filesystem, and
// running a command with captured output.
#include <set>
#include <string>
#include <vector>

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

// Runs argv (argv[0] looked up in PATH) with stdin_data on its stdin and returns its exit
// code and everything it wrote to stdout and stderr. Throws kiln::Error if it cannot start.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data = "");

// The kiln binary under test on a fresh store (a temporary --root, removed afterwards).
struct Kiln {
    TempDir root{"/tmp", "kiln-it-root-"};

    // argv for `kiln --root ROOT args...`.
    std::vector<std::string> argv(const std::vector<std::string>& args) const;
    CommandResult operator()(const std::vector<std::string>& args, const std::string& input = "") const {
        return run_command(argv(args), input);
    }
};

// The busybox base image as a tarball (scripts/make-busybox-rootfs), made once per run.
const std::string& busybox_tarball();

// Imports busybox_tarball() as localhost/busybox:latest; throws kiln::Error on failure.
void import_busybox(const Kiln& kiln);

// Names in dir (empty if it does not exist).
std::set<std::string> dir_entries(const std::string& dir);

}  // namespace kiln::test
