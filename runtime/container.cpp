// run_container: clone the container process into new namespaces; it joins its cgroups,
// builds its filesystem, drops privileges and execs; then wait for it.
//
// The container process shares memory with a possibly multi-threaded parent (the builder
// runs steps in parallel) until execve, posix_spawn style (namespaces.hpp), so it must not
// allocate, take locks or write memory other threads use: the parent prepares every
// string, array, buffer and the seccomp program beforehand, and the child reports
// failures as fixed-size text through a close-on-exec pipe instead of throwing. The
// parent has nothing to do between clone and exec (cgroups are joined by the child), so
// no release handshake is needed.
#include "runtime/container.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "runtime/capabilities.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/child_report.hpp"
#include "runtime/env.hpp"
#include "runtime/namespaces.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/runtime_dir.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/stdio_relay.hpp"
#include "runtime/tty.hpp"
#include "runtime/user.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// --- signal forwarding -------------------------------------------------------------------

// Containers currently running in this process; SIGINT/SIGTERM go to all of them. A fixed
// table of atomics, because the handler may only do async-signal-safe work.
struct ForwardSlot {
    static constexpr pid_t free = 0, starting = -1;
    std::atomic<pid_t> pid{free};  // or `starting` until clone has returned
    std::atomic<int> pidfd{-1};
    std::atomic<int> pending{0};   // a signal that arrived while `starting`
};
std::array<ForwardSlot, 128> forward_slots;
std::mutex forward_mutex;
int forward_users = 0;
struct sigaction saved_int, saved_term;

void send_to(const ForwardSlot& slot, int sig) {
    int pidfd = slot.pidfd.load();
    if (pidfd >= 0)
        ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
    else
        ::kill(slot.pid.load(), sig);
}

void forward_signal(int sig) {
    int saved_errno = errno;
    for (auto& slot : forward_slots) {
        pid_t pid = slot.pid.load();
        if (pid == ForwardSlot::free) continue;
        if (pid == ForwardSlot::starting) {
            // The container may already run (it can exec before clone returns here): keep
            // the signal for ForwardTarget::started, unless that has just happened.
            slot.pending.store(sig);
            if (slot.pid.load() == ForwardSlot::starting) continue;
            sig = slot.pending.exchange(0);
            if (!sig) continue;
        }
        send_to(slot, sig);
    }
    errno = saved_errno;
}

// Installs the forwarding handlers while at least one container runs, restoring the
// caller's handlers when the last one ends.
class ForwardingHandlers {
public:
    ForwardingHandlers() {
        std::lock_guard lock(forward_mutex);
        if (forward_users++ > 0) return;
        struct sigaction sa{};
        sa.sa_handler = forward_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGINT, &sa, &saved_int);
        ::sigaction(SIGTERM, &sa, &saved_term);
    }
    ~ForwardingHandlers() {
        std::lock_guard lock(forward_mutex);
        if (--forward_users > 0) return;
        ::sigaction(SIGINT, &saved_int, nullptr);
        ::sigaction(SIGTERM, &saved_term, nullptr);
    }
    ForwardingHandlers(const ForwardingHandlers&) = delete;
    ForwardingHandlers& operator=(const ForwardingHandlers&) = delete;
};

// One container in the forwarding table, for the lifetime of this object. Created before
// clone, so a signal that arrives before clone returns is kept and delivered by started().
class ForwardTarget {
public:
    ForwardTarget() {
        for (auto& slot : forward_slots) {
            pid_t expected = ForwardSlot::free;
            if (slot.pid.compare_exchange_strong(expected, ForwardSlot::starting)) {
                slot_ = &slot;
                return;
            }
        }
        // More than 128 concurrent containers: the rest simply get no forwarding.
    }
    void started(pid_t pid, int pidfd) {
        if (!slot_) return;
        slot_->pidfd.store(pidfd);
        slot_->pid.store(pid);
        if (int sig = slot_->pending.exchange(0)) send_to(*slot_, sig);
    }
    ~ForwardTarget() {
        if (!slot_) return;
        slot_->pidfd.store(-1);
        slot_->pending.store(0);
        slot_->pid.store(ForwardSlot::free);
    }
    ForwardTarget(const ForwardTarget&) = delete;
    ForwardTarget& operator=(const ForwardTarget&) = delete;

private:
    ForwardSlot* slot_ = nullptr;
};

// --- the child process guard -------------------------------------------------------------

// Owns the container's init process: kills and reaps it if the parent gives up early.
class ChildProcess {
public:
    ChildProcess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
    ~ChildProcess() {
        if (reaped_) return;
        // Killing pid 1 of the namespace kills every process in it.
        if (pidfd_)
            ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
        else
            ::kill(pid_, SIGKILL);
        wait();
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }

    // Waits for exit; returns the wait status.
    int wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        reaped_ = true;
        return status;
    }

private:
    pid_t pid_;
    UniqueFd pidfd_;
    bool reaped_ = false;
};

// --- what the child needs, prepared by the parent ---------------------------------------

constexpr std::size_t account_file_max = 1 << 20;  // /etc/passwd, /etc/group

struct ChildPlan {
    const ContainerSpec* spec = nullptr;
    RootfsPlan rootfs;
    std::string cwd;
    std::vector<BindMount> binds;  // network files, then the spec's
    std::string hostname;
    bool new_net = true;
    std::vector<char*> argv;
    std::vector<std::string> env;
    std::vector<char*> envp;   // env, then a free slot for HOME, then nullptr
    bool needs_home = false;
    std::string home_entry;    // capacity reserved for "HOME=" + a path
    const char* path = nullptr;  // the container's PATH
    int stdio[3] = {-1, -1, -1};  // stdio[0] -1: the container's own /dev/null
    bool tty = false;  // stdio is a pty slave to make the controlling terminal
    int report_fd = -1;
    std::unique_ptr<char[]> passwd, group;
    const std::vector<sock_filter>* seccomp = nullptr;
    int last_cap = 0;
    CapMask caps = 0;
    const Cgroup* cgroup = nullptr;
    bool in_cgroup = false;  // set by clone_process: already in the cgroup2 group
};

// --- container side ----------------------------------------------------------------------

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

// Moves the prepared stdio onto 0, 1, 2. Copies first, so a source that is itself one of
// 0..2 is not overwritten before it is used. A missing stdin holds stdout's pipe until
// open_null_stdin replaces it: none of the caller's descriptors may stay on 0.
bool setup_stdio(const int (&fds)[3], ChildReport& r) {
    int copies[3];
    for (int i = 0; i < 3; ++i)
        if ((copies[i] = ::fcntl(fds[i] >= 0 ? fds[i] : fds[1], F_DUPFD_CLOEXEC, 3)) < 0)
            return r.fail_errno(errno, "dup stdio %d", i);
    for (int i = 0; i < 3; ++i)
        if (::dup2(copies[i], i) < 0) return r.fail_errno(errno, "dup2 stdio %d", i);
    return true;
}

// docker run without -i: stdin is /dev/null, the container's own node (a host one would
// let the container chmod the host's /dev/null through /proc/1/fd/0).
bool open_null_stdin(ChildReport& r) {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return r.fail_errno(errno, "open /dev/null");
    bool ok = ::dup2(fd, 0) == 0;
    int err = errno;
    ::close(fd);
    return ok || r.fail_errno(err, "dup2 /dev/null");
}

// Closes every descriptor but stdio and the report pipe. Close-on-exec is not enough: a
// descriptor still open when the working directory is entered lets `-w /proc/self/fd/N`
// (or WORKDIR) land in the host's filesystem (CVE-2024-21626).
bool close_inherited_fds(int report_fd, ChildReport& r) {
    if (report_fd > 3 && ::close_range(3, static_cast<unsigned>(report_fd) - 1, 0) != 0)
        return r.fail_errno(errno, "close_range");
    if (::close_range(static_cast<unsigned>(report_fd) + 1, ~0U, 0) != 0) return r.fail_errno(errno, "close_range");
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

void exec_failure(ChildReport& r, const char* file, int err) {
    r.kind = ChildReport::exec;
    r.exit_code = (err == ENOENT || err == ENOTDIR) ? 127 : 126;
    if (err == ENOENT && !std::strchr(file, '/'))
        std::snprintf(r.text, sizeof r.text, "exec: \"%s\": executable file not found in $PATH", file);
    else  // Go-style lower-case text, as `docker run` prints it ("permission denied")
        std::snprintf(r.text, sizeof r.text, "exec: \"%s\": %c%s", file,
                      std::tolower(static_cast<unsigned char>(::strerrordesc_np(err)[0])),
                      ::strerrordesc_np(err) + 1);
}

// execvpe with the container's PATH, in a stack buffer. Returns only on failure.
void exec_command(const ChildPlan& p, ChildReport& r) {
    const char* file = p.argv[0];
    if (std::strchr(file, '/')) {
        ::execve(file, p.argv.data(), p.envp.data());
        return exec_failure(r, file, errno);
    }
    bool denied = false;
    char candidate[PATH_MAX];
    const char* dirs = p.path ? p.path : "";
    for (;;) {
        const char* end = std::strchr(dirs, ':');
        std::size_t len = end ? static_cast<std::size_t>(end - dirs) : std::strlen(dirs);
        int n = len ? std::snprintf(candidate, sizeof candidate, "%.*s/%s", static_cast<int>(len), dirs, file)
                    : std::snprintf(candidate, sizeof candidate, "%s", file);  // empty entry: cwd
        if (n > 0 && static_cast<std::size_t>(n) < sizeof candidate) {
            ::execve(candidate, p.argv.data(), p.envp.data());
            int err = errno;
            if (err == EACCES)
                denied = true;
            else if (err != ENOENT && err != ENOTDIR && err != ELOOP && err != ENAMETOOLONG)
                return exec_failure(r, file, err);  // found, but not runnable (ENOEXEC, ...)
        }
        if (!end) break;
        dirs = end + 1;
    }
    exec_failure(r, file, denied ? EACCES : ENOENT);
}

// Everything from clone to execve, in DESIGN's order. Returns only on failure.
void container_setup(ChildPlan& p, ChildReport& r) {
    // Handlers are inherited from the parent (including kiln's forwarding handler) and
    // clone_process blocked every signal: reset the handlers first, then unblock, so the
    // command starts with the defaults, as under Docker, and no parent handler ever runs.
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Die with the parent rather than leak a container (re-armed after setuid below).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::umask(0);
    // First, so the kernel memory of everything below is charged to the container.
    for (const auto& file : p.cgroup->v1_tasks_files())
        if (!join_cgroup_self(file, r)) return;
    if (!p.in_cgroup && !p.cgroup->v2_procs_file().empty() && !join_cgroup_self(p.cgroup->v2_procs_file(), r))
        return;
    if (!setup_stdio(p.stdio, r)) return;
    // A session of its own, so no terminal of the caller's is the container's controlling
    // terminal (TIOCSTI needs that); with -t the pty becomes it, for job control and ^C.
    if (::setsid() < 0) return void(r.fail_errno(errno, "setsid"));
    if (p.tty && ::ioctl(0, TIOCSCTTY, 0) != 0) return void(r.fail_errno(errno, "make the terminal controlling"));

    if (!setup_rootfs(p.rootfs, r)) return;
    if (p.stdio[0] < 0 && !open_null_stdin(r)) return;
    if (!close_inherited_fds(p.report_fd, r)) return;
    if (!set_hostname(p.hostname.c_str(), r)) return;
    if (p.new_net && !bring_up_loopback(r)) return;

    // Now inside the container's cgroups: make them its cgroup namespace root.
    if (::unshare(CLONE_NEWCGROUP) != 0 && errno != EINVAL) {
        r.fail_errno(errno, "unshare cgroup namespace");
        return;
    }

    std::string_view passwd, group;
    if (!read_account_file("/etc/passwd", p.passwd.get(), passwd, r)) return;
    if (!read_account_file("/etc/group", p.group.get(), group, r)) return;
    ResolvedUser user;
    const char* why = nullptr;
    if (!resolve_user(p.spec->user, passwd, group, user, why)) {
        r.fail("%s (user \"%s\")", why, p.spec->user.c_str());
        return;
    }
    if (!make_directories(p.cwd.c_str(), r)) return;

    if (!drop_bounding_set(p.caps, p.last_cap, r)) return;
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
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
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
    // Only stdio survives execve; the report pipe stays open until then.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return void(r.fail_errno(errno, "close_range"));
    ::umask(022);
    exec_command(p, r);
}

int child_main(void* arg) {
    ChildPlan& p = *static_cast<ChildPlan*>(arg);
    ChildReport report;
    container_setup(p, report);
    // One write below PIPE_BUF: the parent reads the whole report or nothing.
    [[maybe_unused]] ssize_t n = ::write(p.report_fd, &report, sizeof report);
    ::_exit(report.kind == ChildReport::exec ? report.exit_code : 125);
    return 125;
}

// --- parent side -------------------------------------------------------------------------

struct Pipe {
    UniqueFd read, write;
};

// A CLOEXEC pipe whose ends are above 2, so they never collide with the stdio the child
// builds on 0..2.
Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
    for (UniqueFd* end : {&p.read, &p.write}) {
        if (end->get() > 2) continue;
        UniqueFd high(::fcntl(end->get(), F_DUPFD_CLOEXEC, 3));
        if (!high) throw_errno("dup pipe");
        *end = std::move(high);
    }
    return p;
}

// The files `docker run` puts in /etc, for spec.network_files.
std::vector<BindMount> write_network_files(const std::string& state_dir, const std::string& hostname) {
    atomic_write(state_dir + "/hostname", hostname + "\n");
    atomic_write(state_dir + "/hosts",
                 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                 "ff02::2\tip6-allrouters\n127.0.1.1\t" + hostname + "\n");
    std::string resolv;
    try {
        resolv = read_file("/etc/resolv.conf");
    } catch (const Error&) {
        // No resolver configured on the host: the container gets none either.
    }
    atomic_write(state_dir + "/resolv.conf", resolv);
    return {{state_dir + "/hostname", "/etc/hostname", false},
            {state_dir + "/hosts", "/etc/hosts", false},
            {state_dir + "/resolv.conf", "/etc/resolv.conf", false}};
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the caller's stderr is gone; nothing better to do
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string generate_container_id() {
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("getrandom");
        got += static_cast<std::size_t>(n);
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    for (unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    return id;
}

struct StartedContainer::State {
    explicit State(const std::string& id) : runtime_dir(id) {}
    const ContainerSpec* spec = nullptr;  // valid until start_container returns, and in run_container
    RuntimeDir runtime_dir;  // first: whatever a kill -9 of this process leaves is found through it
    std::optional<Cgroup> cgroup;
    std::optional<Pty> pty;
    std::optional<StdioPipes> pipes;
    std::optional<ForwardingHandlers> handlers;
    // `child` outlives `forward_target`: forwarding stops before the pidfd is closed, so a
    // signal never reaches a reused fd or pid.
    std::optional<ChildProcess> child;
    std::optional<ForwardTarget> forward_target;
    int exec_failure = 0;
};

namespace {

// The clone and everything the child needs, prepared here (see the file comment).
std::unique_ptr<StartedContainer::State> start(const ContainerSpec& spec, bool forward_signals) {
    if (spec.args.empty() || spec.args[0].empty()) throw Error("no command given for the container");
    if (spec.rootfs.type.empty()) throw Error("no root filesystem given for the container");
    if (!spec.cwd.empty() && spec.cwd.front() != '/')
        throw Error("the working directory \"" + spec.cwd + "\" is not an absolute path");

    validate_limits({spec.memory_limit, spec.pids_limit, spec.cpus});

    const std::string id = spec.id.empty() ? generate_container_id() : spec.id;
    auto state = std::make_unique<StartedContainer::State>(id);
    state->spec = &spec;
    const std::string state_dir = spec.state_dir.empty() ? state->runtime_dir.path() : spec.state_dir;
    const std::string mountpoint = state_dir + "/rootfs";
    if (::mkdir(mountpoint.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("create " + mountpoint);

    ChildPlan plan;
    plan.spec = &spec;
    plan.cwd = spec.cwd.empty() ? "/" : spec.cwd;  // an image without WORKDIR
    plan.hostname = spec.hostname.empty() ? id.substr(0, 12) : spec.hostname;
    if (spec.network_files) plan.binds = write_network_files(state_dir, plan.hostname);
    plan.binds.insert(plan.binds.end(), spec.binds.begin(), spec.binds.end());
    plan.rootfs = {&spec.rootfs, mountpoint.c_str(), &plan.binds};
    plan.new_net = !spec.host_network;
    for (const auto& a : spec.args) plan.argv.push_back(const_cast<char*>(a.c_str()));
    plan.argv.push_back(nullptr);
    plan.env = default_env(spec.env, plan.hostname);
    for (auto& kv : plan.env) plan.envp.push_back(kv.data());
    plan.envp.push_back(nullptr);
    plan.envp.push_back(nullptr);
    plan.needs_home = env_lookup(plan.env, "HOME") == nullptr;
    plan.home_entry.reserve(PATH_MAX + 8);
    plan.path = env_lookup(plan.env, "PATH");
    plan.passwd = std::make_unique_for_overwrite<char[]>(account_file_max);
    plan.group = std::make_unique_for_overwrite<char[]>(account_file_max);
    plan.seccomp = spec.seccomp ? spec.seccomp.get() : &default_seccomp_program();
    static const int last_cap = last_capability();
    plan.last_cap = last_cap;
    plan.caps = docker_default_capabilities();

    // The container never gets one of the caller's descriptors: a pty of its own with -t,
    // pipes relayed by kiln otherwise (stdio_relay.hpp says why).
    if (spec.tty) {
        state->pty.emplace(spec.stdin_fd);
        plan.tty = true;
        plan.stdio[0] = plan.stdio[1] = plan.stdio[2] = state->pty->slave();
        plan.binds.insert(plan.binds.begin(), BindMount{state->pty->slave_path(), "/dev/console", false});
    } else {
        state->pipes.emplace(spec.stdin_fd >= 0);
        plan.stdio[0] = state->pipes->container_stdin();
        plan.stdio[1] = state->pipes->container_stdout();
        plan.stdio[2] = state->pipes->container_stderr();
    }
    Pipe report = make_pipe();
    plan.report_fd = report.write.get();

    state->cgroup.emplace(id, CgroupLimits{spec.memory_limit, spec.pids_limit, spec.cpus}, spec.devices);
    plan.cgroup = &*state->cgroup;
    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (plan.new_net) flags |= CLONE_NEWNET;
    if (forward_signals) {
        state->handlers.emplace();
        state->forward_target.emplace();
    }
    // Returns once the child has exec'd or failed (CLONE_VFORK): by then its report, if
    // any, is in the pipe.
    CloneResult cloned =
        clone_process(flags, state->cgroup->clone_into_fd(), &plan.in_cgroup, child_main, &plan);
    state->child.emplace(cloned.pid, cloned.pidfd);
    if (state->forward_target) state->forward_target->started(cloned.pid, cloned.pidfd);
    report.write.reset();
    if (state->pipes) state->pipes->close_container_ends();
    if (state->pty) state->pty->close_slave();

    // EOF without a report means execve succeeded (the pipe is close-on-exec).
    ChildReport failure;
    ssize_t got;
    do {
        got = ::read(report.read.get(), &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof failure)) {
        failure.text[sizeof failure.text - 1] = '\0';
        state->child->wait();
        if (failure.kind != ChildReport::exec) throw Error(std::string("container setup: ") + failure.text);
        write_all(spec.stderr_fd, std::string(failure.text) + "\n");
        state->exec_failure = failure.exit_code;
    }
    return state;
}

}  // namespace

StartedContainer::StartedContainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
StartedContainer::~StartedContainer() = default;

pid_t StartedContainer::pid() const { return state_->child->pid(); }
int StartedContainer::exec_failure() const { return state_->exec_failure; }

int StartedContainer::relay_and_wait() {
    if (state_->exec_failure) return state_->exec_failure;
    const ContainerSpec& spec = *state_->spec;
    if (state_->pty)
        relay_pty(*state_->pty, spec.stdin_fd, spec.stdout_fd);
    else
        state_->pipes->relay(spec.stdin_fd, spec.stdout_fd, spec.stderr_fd);
    return decode_status(state_->child->wait());
}

StartedContainer::Handover StartedContainer::handover() const {
    Handover h;
    h.pid = state_->child->pid();
    h.pidfd = state_->child->pidfd();
    if (state_->pty) {
        h.stdout_fd = state_->pty->master();
    } else {
        h.stdout_fd = state_->pipes->stdout_reader();
        h.stderr_fd = state_->pipes->stderr_reader();
    }
    h.lock_fd = state_->runtime_dir.lock_fd();
    h.runtime_dir = state_->runtime_dir.path();
    h.cgroup_dirs = state_->cgroup->paths();
    return h;
}

std::unique_ptr<StartedContainer> start_container(const ContainerSpec& spec) {
    return std::make_unique<StartedContainer>(start(spec, false));
}

int run_container(const ContainerSpec& spec) { return run_container(spec, {}); }

int run_container(const ContainerSpec& spec, const std::function<void(pid_t)>& on_start) {
    StartedContainer container(start(spec, true));
    if (on_start && !container.exec_failure()) on_start(container.pid());
    return container.relay_and_wait();
}

}  // namespace kiln::runtime
