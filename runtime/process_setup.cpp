#include "runtime/process_setup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "runtime/env.hpp"
#include "runtime/child_report.hpp"
#include "runtime/exec_hop.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/user.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

constexpr std::size_t account_file_max = 1 << 20;  // /etc/passwd, /etc/group

// Reads a small file into buf; a missing file reads as empty.
bool read_account_file(const char* path, char* buf, std::string_view& out, ChildReport& r) {
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return out = {}, true;
        return r.fail_errno(errno, "open %s", path);
    }
    std::size_t len = 0;
    for (;;) {
        ssize_t n = ::read(fd.get(), buf + len, account_file_max - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return r.fail_errno(errno, "read %s", path);
        if (n == 0) break;
        len += static_cast<std::size_t>(n);
        if (len == account_file_max) return r.fail("%s is larger than 1 MiB", path);
    }
    out = {buf, len};
    return true;
}

// The working directory must lie inside the container's root. The kernel marks a
// directory that "/" cannot reach with "(unreachable)"; the raw syscall shows that mark,
// where glibc's getcwd would hide it behind ENOENT.
bool check_cwd_inside_root(ChildReport& r) {
    char cwd[PATH_MAX];
    long n = ::syscall(SYS_getcwd, cwd, sizeof cwd);
    if (n < 0) return r.fail_errno(errno, "getcwd");
    if (cwd[0] != '/') return r.fail("the working directory is outside the container");
    return true;
}

// execve of kiln-exec, which execs the command (exec_hop.hpp says why). It inherits only
// the report pipe, and marks it close-on-exec again itself.
void exec_through_hop(ProcessPlan& p, ChildReport& r) {
    if (::fcntl(p.report_fd, F_SETFD, 0) != 0) return void(r.fail_errno(errno, "keep the report pipe for kiln-exec"));
    std::snprintf(p.hop_report_arg, sizeof p.hop_report_arg, "%d", p.report_fd);
    p.hop_argv[1] = p.hop_report_arg;
    ::syscall(SYS_execveat, p.hop_fd, "", p.hop_argv.data(), p.envp.data(), AT_EMPTY_PATH);
    // A seccomp profile of the user's may refuse execveat where it allows execve.
    std::snprintf(p.hop_path, sizeof p.hop_path, "/proc/self/fd/%d", p.hop_fd);
    ::execve(p.hop_path, p.hop_argv.data(), p.envp.data());
    r.fail_errno(errno, "exec kiln-exec");
}

// PR_SET_PDEATHSIG set after the parent died never fires, and getppid() cannot tell inside
// a pid namespace (it reads 0 either way). The report pipe can: its read end is open only
// in the parent (this child closed its copy), and a pipe without readers polls POLLERR.
void exit_if_parent_died(const ProcessPlan& p) {
    pollfd pfd{p.report_fd, 0, 0};
    if (::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR)) ::_exit(128 + SIGKILL);
}

}  // namespace

void make_privileged(ProcessPlan& p) {
    static const std::vector<sock_filter> no_filter;
    p.caps = all_capabilities(p.last_cap);
    p.seccomp = &no_filter;
}

void prepare_process(ProcessPlan& p, const std::vector<std::string>& args, const std::vector<std::string>& env,
                     const std::string& hostname, const std::string& user, const std::string& cwd,
                     const std::vector<sock_filter>* seccomp) {
    p.argv.clear();
    for (const auto& a : args) p.argv.push_back(const_cast<char*>(a.c_str()));
    p.argv.push_back(nullptr);
    p.env = default_env(env, hostname);
    p.envp.clear();
    for (auto& kv : p.env) p.envp.push_back(kv.data());
    p.envp.push_back(nullptr);
    p.envp.push_back(nullptr);
    p.needs_home = env_lookup(p.env, "HOME") == nullptr;
    p.home_entry.reserve(PATH_MAX + 8);
    p.path = env_lookup(p.env, "PATH");
    p.user = user;
    p.cwd = cwd.empty() ? "/" : cwd;  // an image without WORKDIR
    p.passwd = std::make_unique_for_overwrite<char[]>(account_file_max);
    p.group = std::make_unique_for_overwrite<char[]>(account_file_max);
    p.seccomp = seccomp ? seccomp : &default_seccomp_program();
    static const int last_cap = last_capability();
    p.last_cap = last_cap;
    p.caps = docker_default_capabilities();
    p.hop_fd = exec_hop_fd();
    p.hop_argv.assign({const_cast<char*>("kiln-exec"), nullptr});
    p.hop_argv.insert(p.hop_argv.end(), p.argv.begin(), p.argv.end());
}

void reset_signals(const ProcessPlan& p) {
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (p.report_read_fd >= 0) ::close(p.report_read_fd);
    // Die with the parent rather than leak a container process (re-armed after setuid).
    if (p.die_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        exit_if_parent_died(p);
    }
}

bool enter_session(const ProcessPlan& p, ChildReport& r) {
    // Copies first, so a source that is itself one of 0..2 is not overwritten before it is
    // used. A slot without a descriptor holds another slot's until open_null_stdio
    // replaces it: none of the caller's descriptors may stay on 0..2.
    int any = p.stdio[1] >= 0 ? p.stdio[1] : p.stdio[0] >= 0 ? p.stdio[0] : p.stdio[2];
    if (any >= 0) {
        int copies[3];
        for (int i = 0; i < 3; ++i)
            if ((copies[i] = ::fcntl(p.stdio[i] >= 0 ? p.stdio[i] : any, F_DUPFD_CLOEXEC, 3)) < 0)
                return r.fail_errno(errno, "dup stdio %d", i);
        for (int i = 0; i < 3; ++i)
            if (::dup2(copies[i], i) < 0) return r.fail_errno(errno, "dup2 stdio %d", i);
    }
    if (::setsid() < 0) return r.fail_errno(errno, "setsid");
    // With -t the pty is the controlling terminal, for job control and ^C.
    if (p.tty && ::ioctl(0, TIOCSCTTY, 0) != 0) return r.fail_errno(errno, "make the terminal controlling");
    return true;
}

bool open_null_stdio(const ProcessPlan& p, ChildReport& r) {
    for (int i = 0; i < 3; ++i) {
        if (p.stdio[i] >= 0) continue;
        int fd = ::open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
        if (fd < 0) return r.fail_errno(errno, "open /dev/null");
        bool ok = ::dup2(fd, i) == i;
        int err = errno;
        ::close(fd);
        if (!ok) return r.fail_errno(err, "dup2 /dev/null");
    }
    return true;
}

bool close_inherited_fds(const ProcessPlan& p, ChildReport& r) {
    const unsigned low = static_cast<unsigned>(std::min(p.report_fd, p.hop_fd));
    const unsigned high = static_cast<unsigned>(std::max(p.report_fd, p.hop_fd));
    // The gaps below, between and above the two kept descriptors (both above 2).
    const unsigned ranges[3][2] = {{3, low - 1}, {low + 1, high - 1}, {high + 1, ~0U}};
    for (const auto& [first, last] : ranges)
        if (first <= last && ::close_range(first, last, 0) != 0) return r.fail_errno(errno, "close_range");
    return true;
}

void confine_and_exec(ProcessPlan& p, ChildReport& r) {
    std::string_view passwd, group;
    if (!read_account_file("/etc/passwd", p.passwd.get(), passwd, r)) return;
    if (!read_account_file("/etc/group", p.group.get(), group, r)) return;
    ResolvedUser user;
    const char* why = nullptr;
    if (!resolve_user(p.user, passwd, group, user, why)) return void(r.fail("%s (user \"%s\")", why, p.user.c_str()));
    if (p.create_cwd && !make_directories(p.cwd.c_str(), r)) return;

    if (!drop_bounding_set(p.caps, p.last_cap, r)) return;
    // Before the user changes: a process may lower its limits at any time, but raising
    // one back (within the hard limit) is for the process's own uid.
    if (p.rlimits && !apply_rlimits(*p.rlimits, r)) return;
    // Raw syscalls: glibc's setuid() would broadcast the change to the threads of the
    // process whose memory this one shares, under a lock those threads may hold.
    if (::syscall(SYS_setgroups, user.group_count, user.groups.data()) != 0)
        return void(r.fail_errno(errno, "setgroups"));
    if (::syscall(SYS_setresgid, user.gid, user.gid, user.gid) != 0)
        return void(r.fail_errno(errno, "setgid %u", user.gid));
    if (::syscall(SYS_setresuid, user.uid, user.uid, user.uid) != 0)
        return void(r.fail_errno(errno, "setuid %u", user.uid));
    // Docker gives a non-root user no effective or permitted capabilities.
    if (!set_capabilities(user.uid == 0 ? p.caps : 0, r)) return;
    // A change of user clears the parent-death signal; the parent may have died since.
    if (p.die_with_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        exit_if_parent_died(p);
    }
    if (p.needs_home) {
        if (user.home.size() + 6 > p.home_entry.capacity()) return void(r.fail("home directory path too long"));
        p.home_entry.assign("HOME=");
        p.home_entry.append(user.home);
        p.envp[p.env.size()] = p.home_entry.data();
    }
    if (::chdir(p.cwd.c_str()) != 0) return void(r.fail_errno(errno, "chdir %s", p.cwd.c_str()));
    if (!check_cwd_inside_root(r)) return;

    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return void(r.fail_errno(errno, "set no_new_privs"));
    if (!p.seccomp->empty() && !install_seccomp(*p.seccomp, r)) return;
    // Only stdio survives execve; the report pipe stays open until then, through the hop.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return void(r.fail_errno(errno, "close_range"));
    ::umask(022);
    exec_through_hop(p, r);
}

void report_and_exit(const ProcessPlan& p, const ChildReport& report) {
    [[maybe_unused]] ssize_t n = ::write(p.report_fd, &report, sizeof report);
    ::_exit(report.kind == ChildReport::exec ? report.exit_code : 125);
}

}  // namespace kiln::runtime
