#pragma once
// `kiln exec`: a new process in a running container, confined like the container's own
// (process_setup.hpp). Its init's pidfd names the container; the process joins the
// container's cgroups and every namespace (mnt, pid, uts, ipc, net, cgroup), and gets a
// session and stdio of its own: relayed pipes, or a new pty with tty.
//
// Process tree: kiln → joiner (host pid namespace; joins the cgroups, then setns, which for
// the pid namespace only places the joiner's children) → the exec'd process, the first of
// this chain inside the container's pid namespace.
//  - attached: the joiner clones it with CLONE_PARENT, so it is kiln's own child and kiln
//    waits for it and reports its status; it dies with kiln (PR_SET_PDEATHSIG), as
//    `kiln run`'s foreground container does.
//  - detached (-d): one more hop inside the container — the process there clones the
//    command and exits, so the orphaned command is re-parented to the container's init
//    (the reaper of its pid namespace): it lives as long as the container, nobody on the
//    host waits for it, and it is reaped by the container's init, as any orphan of the
//    container's own processes is (an init that never waits leaves it a zombie until the
//    container stops; the monitor is not its ancestor, so it cannot be its reaper).
#include <linux/filter.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/capabilities.hpp"
#include "runtime/ulimits.hpp"

namespace kiln::runtime {

struct ExecSpec {
    std::string container_id;  // names its cgroups
    int init_pidfd = -1;       // the container's init, checked to be that container's (open_container_init)
    pid_t init_pid = -1;       // the same process's pid, for /proc/PID/ns on kernels before 5.8
    std::vector<std::string> args;
    std::vector<std::string> env;  // the container's, then -e; PATH, HOSTNAME, HOME defaulted as in run
    std::string hostname;
    std::string user;               // resolved in the container's /etc/passwd
    std::string cwd = "/";          // must exist: exec does not create it (Docker's exec neither)
    bool tty = false;
    bool detach = false;            // nobody waits; stdio is the container's /dev/null
    int stdin_fd = -1;              // -1: the container's /dev/null
    int stdout_fd = 1;
    int stderr_fd = 2;
    // nullptr: Docker's default profile; empty: no filter (as the container was created).
    std::shared_ptr<const std::vector<sock_filter>> seccomp;
    bool privileged = false;  // the container's --privileged: the same for its execs
    // The container's --cap-add/--cap-drop set (nullopt: Docker's default) and --ulimit
    // values: Docker's exec starts from the container's own process settings.
    std::optional<CapMask> capabilities;
    std::vector<Rlimit> rlimits;
};

// Runs spec.args in the container and returns Docker's status: the command's exit code,
// 128+N if killed by signal N, 126/127 if it cannot be executed (the reason goes to
// stderr_fd); 0 at once when detached. Throws kiln::Error when kiln fails before exec
// (exit 125), including a working directory outside the container.
int exec_in_container(const ExecSpec& spec);

}  // namespace kiln::runtime
