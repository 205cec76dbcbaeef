#pragma once
// The part of a container process's setup that `run` (the container's init) and `exec` (a
// process joining a running container) share: its stdio and session, closing what it
// inherited, then the confinement Docker gives every container process (user from the
// container's /etc/passwd, capabilities, HOME, working directory checked inside the root,
// no_new_privs, seccomp) and the exec with Docker's 126/127 rules.
//
// The child-side functions run between clone and execve in a process that shares memory
// with its possibly multi-threaded parent (namespaces.hpp): they never allocate, take locks
// or throw. prepare_process, on the parent side, makes every string, array and buffer
// they need beforehand.
#include <linux/filter.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/capabilities.hpp"
#include "runtime/child_report.hpp"
#include "runtime/ulimits.hpp"

namespace kiln::runtime {

struct ProcessPlan {
    std::vector<char*> argv;
    std::vector<std::string> env;
    std::vector<char*> envp;     // env, then a free slot for HOME, then nullptr
    bool needs_home = false;
    std::string home_entry;      // capacity reserved for "HOME=" + a path
    const char* path = nullptr;  // the container's PATH
    std::string user;            // Docker's user spec, resolved in the container's /etc/passwd
    std::string cwd;
    bool create_cwd = false;     // docker run creates a missing working directory; exec does not
    int stdio[3] = {-1, -1, -1};  // -1: the container's own /dev/null
    bool tty = false;            // stdio is a pty slave to make the controlling terminal
    int report_fd = -1;          // the setup report pipe, above 2, close-on-exec
    // Its read end, which only the parent may keep open: once no one holds it, polling
    // report_fd shows POLLERR, and the child knows its parent died (see reset_signals).
    int report_read_fd = -1;
    // Off for a process that must outlive its (short-lived) parent: exec -d.
    bool die_with_parent = true;
    std::unique_ptr<char[]> passwd, group;  // buffers for the container's account files
    const std::vector<sock_filter>* seccomp = nullptr;  // empty: no filter
    int last_cap = 0;
    CapMask caps = 0;
    const std::vector<Rlimit>* rlimits = nullptr;  // --ulimit; nullptr: kiln's own limits
    // The command is started through kiln-exec (exec_hop.hpp), never by kiln's own binary.
    int hop_fd = -1;
    std::vector<char*> hop_argv;  // "kiln-exec", the report fd (filled in the child), argv
    char hop_report_arg[16] = {};
    char hop_path[32] = {};
};

// Parent side. args[0] is looked up in the PATH of env (default_env's PATH, HOSTNAME
// added); seccomp nullptr means Docker's default program.
void prepare_process(ProcessPlan& plan, const std::vector<std::string>& args, const std::vector<std::string>& env,
                     const std::string& hostname, const std::string& user, const std::string& cwd,
                     const std::vector<sock_filter>* seccomp);

// docker run --privileged: every capability and no seccomp filter for the process.
void make_privileged(ProcessPlan& plan);

// --- child side (no allocation) ----------------------------------------------------------

// Default handlers, then every signal unblocked (clone_process blocked them all, so no
// handler of the parent's ever runs here), and PR_SET_PDEATHSIG when die_with_parent.
// The child's copy of the report pipe's read end is closed here: exits at once when the
// parent already died before the signal was armed, which no signal would ever report.
void reset_signals(const ProcessPlan& plan);

// The plan's stdio on 0, 1, 2, then a session of its own (no terminal of the caller's can
// be the controlling one: TIOCSTI needs that); with tty the pty becomes it.
bool enter_session(const ProcessPlan& plan, ChildReport& report);

// The container's own /dev/null on each of 0..2 the plan has no descriptor for. Needs the
// container's root: a host /dev/null would let the container chmod it through /proc/N/fd.
bool open_null_stdio(const ProcessPlan& plan, ChildReport& report);

// Closes every descriptor but stdio, the report pipe and kiln-exec's memfd (a file, not a
// directory). Close-on-exec is not enough: a descriptor still open when the working
// directory is entered lets `-w /proc/self/fd/N` (or WORKDIR) land in the host's
// filesystem (CVE-2024-21626).
bool close_inherited_fds(const ProcessPlan& plan, ChildReport& report);

// User, capabilities (bounding set; effective and permitted for root, none for others),
// HOME, chdir with the cwd checked inside the root, no_new_privs, seccomp, then the
// command through kiln-exec. Returns only on failure, with the report filled (a failed
// execve of the command itself comes from kiln-exec: kind exec, 126/127 and Docker's
// message).
void confine_and_exec(ProcessPlan& plan, ChildReport& report);

// The end of every setup child: the report (if any) to the parent in one write below
// PIPE_BUF, then exit 125, or 126/127 for an exec failure.
[[noreturn]] void report_and_exit(const ProcessPlan& plan, const ChildReport& report);

}  // namespace kiln::runtime
