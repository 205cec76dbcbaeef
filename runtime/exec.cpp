// exec_in_container: the joiner (cloned from kiln) joins the container's cgroups and
// namespaces; its child, inside the container's pid namespace, sets itself up with
// process_setup.hpp and execs. exec.hpp describes the process tree.
//
// Like container.cpp's init, every process between clone and execve here shares kiln's
// memory (posix_spawn style), so none of them allocates, takes a lock or throws: the
// parent prepares the plan, the stacks and every descriptor beforehand, and failures come
// back as a fixed-size report through a close-on-exec pipe.
#include "runtime/exec.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <optional>

#include "runtime/cgroups.hpp"
#include "runtime/child_process.hpp"
#include "runtime/namespaces.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/stdio_relay.hpp"
#include "runtime/tty.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

// Every namespace the container has (kiln gives containers no user namespace).
constexpr int container_namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                                     CLONE_NEWCGROUP;
// For kernels that cannot setns through a pidfd: the same set by name. The mount
// namespace comes last, since it also moves the root.
constexpr std::array<const char*, 6> namespace_names = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};

struct ExecPlan {
    ProcessPlan process;
    const ContainerCgroups* cgroups = nullptr;
    bool in_cgroup = false;  // set by clone_process: the joiner started in the cgroup2 group
    int init_pidfd = -1;
    std::array<int, namespace_names.size()> namespace_fds{};  // all -1 where setns takes the pidfd
    bool detach = false;
    const ChildStack* inner_stack = nullptr;    // the joiner's child
    const ChildStack* command_stack = nullptr;  // with detach: the command, one hop further
    pid_t command_pid = -1;  // written by the joiner: kiln's child when attached
};

// setns(pidfd, flags) joins several namespaces at once (Linux 5.8+).
bool kernel_joins_by_pidfd() {
    static const bool joins = [] {
        utsname u{};
        int major = 0, minor = 0;
        if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
        return major > 5 || (major == 5 && minor >= 8);
    }();
    return joins;
}

// --- inside the container's pid namespace ------------------------------------------------

int command_main(void* arg) {
    ExecPlan& p = *static_cast<ExecPlan*>(arg);
    ChildReport r;
    reset_signals(p.process);
    ::umask(0);
    // The order that matters: every inherited descriptor (the cgroup directory, the
    // pidfd, kiln's own files) is gone before confine_and_exec enters the working
    // directory and checks it lies inside the container's root.
    if (enter_session(p.process, r) && open_null_stdio(p.process, r) && close_inherited_fds(p.process, r))
        confine_and_exec(p.process, r);
    report_and_exit(p.process, r);
}

// exec -d: starts the command and exits, orphaning it to the container's init.
int detacher_main(void* arg) {
    ExecPlan& p = *static_cast<ExecPlan*>(arg);
    pid_t pid = clone_from_child(0, *p.command_stack, command_main, &p);
    if (pid >= 0) ::_exit(0);
    ChildReport r;
    r.fail_errno(-pid, "start the command in the container");
    report_and_exit(p.process, r);
}

// --- the joiner, in the host's pid namespace ---------------------------------------------

bool join_container(const ExecPlan& p, ChildReport& r) {
    // From the host's mount namespace, before setns leaves it: the files are the host's.
    for (const auto& file : p.cgroups->v1_tasks)
        if (!join_cgroup_self(file, r)) return false;
    if (!p.in_cgroup && !p.cgroups->v2_procs.empty() && !join_cgroup_self(p.cgroups->v2_procs, r)) return false;
    if (p.namespace_fds[0] < 0)
        return ::setns(p.init_pidfd, container_namespaces) == 0 ||
               r.fail_errno(errno, "join the container's namespaces");
    for (std::size_t i = 0; i < namespace_names.size(); ++i)
        if (::setns(p.namespace_fds[i], 0) != 0)
            return r.fail_errno(errno, "join the container's %s namespace", namespace_names[i]);
    return true;
}

int joiner_main(void* arg) {
    ExecPlan& p = *static_cast<ExecPlan*>(arg);
    ChildReport r;
    ::close(p.process.report_read_fd);  // before the command copies it (reset_signals says why)
    if (join_container(p, r)) {
        // setns moved only this process's future children into the container's pid
        // namespace: the process that execs must be one of them.
        pid_t pid = clone_from_child(p.detach ? 0 : CLONE_PARENT, *p.inner_stack,
                                     p.detach ? detacher_main : command_main, &p);
        if (pid >= 0) {
            p.command_pid = pid;
            // The detacher is this process's own child; the attached command is kiln's.
            if (p.detach) ::syscall(SYS_wait4, pid, nullptr, 0, nullptr);
            ::_exit(0);
        }
        r.fail_errno(-pid, "start a process in the container");
    }
    report_and_exit(p.process, r);
}

// /proc/PID/ns/* of the init, for kernels before 5.8; checked to be its own afterwards.
std::vector<UniqueFd> open_namespaces(const ExecSpec& spec, ExecPlan& plan) {
    std::vector<UniqueFd> fds;
    for (const char* name : namespace_names) {
        std::string path = "/proc/" + std::to_string(spec.init_pid) + "/ns/" + name;
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno("open " + path);
        fds.push_back(std::move(fd));
    }
    // Alive after the opens: the pid still named the process the pidfd refers to.
    if (::syscall(SYS_pidfd_send_signal, spec.init_pidfd, 0, nullptr, 0) != 0)
        throw Error("container " + spec.container_id + " is not running");
    for (std::size_t i = 0; i < fds.size(); ++i) plan.namespace_fds[i] = fds[i].get();
    return fds;
}

// exec -d -t: a terminal whose master end nobody holds fails the command's first write
// with EIO, and nothing attaches to an exec session. A process of its own (a new session,
// nothing of kiln's open but the master) holds it and drains what the command writes,
// until the command and whatever inherited its terminal are gone.
void hold_pty_master(int master) {
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("start the terminal holder of exec -d -t");
    if (pid > 0) return;
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd < 0 || ::dup2(master, 3) < 0) ::_exit(1);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
    ::close_range(4, ~0U, 0);
    static char buf[4096];
    for (;;) {
        ssize_t n = ::read(3, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        ::_exit(0);  // EIO: the last holder of the slave end has closed it
    }
}

}  // namespace

int exec_in_container(const ExecSpec& spec) {
    if (spec.args.empty() || spec.args[0].empty()) throw Error("no command given to exec");
    if (spec.cwd.empty() || spec.cwd.front() != '/')
        throw Error("the working directory \"" + spec.cwd + "\" is not an absolute path");

    ExecPlan plan;
    prepare_process(plan.process, spec.args, spec.env, spec.hostname, spec.user, spec.cwd, spec.seccomp.get());
    if (spec.capabilities) plan.process.caps = *spec.capabilities;
    if (spec.privileged) make_privileged(plan.process);
    if (!spec.rlimits.empty()) plan.process.rlimits = &spec.rlimits;
    plan.process.die_with_parent = !spec.detach;
    plan.detach = spec.detach;
    plan.init_pidfd = spec.init_pidfd;
    plan.namespace_fds.fill(-1);
    ContainerCgroups cgroups = find_container_cgroups(spec.container_id);
    plan.cgroups = &cgroups;
    std::vector<UniqueFd> namespace_fds;
    if (!kernel_joins_by_pidfd()) namespace_fds = open_namespaces(spec, plan);

    // Never one of the caller's descriptors: a pty of its own with -t, relayed pipes
    // otherwise (stdio_relay.hpp says why); detached, the container's /dev/null.
    std::optional<Pty> pty;
    std::optional<StdioPipes> pipes;
    if (spec.tty) {
        pty.emplace(spec.detach ? -1 : spec.stdin_fd);
        plan.process.tty = true;
        plan.process.stdio[0] = plan.process.stdio[1] = plan.process.stdio[2] = pty->slave();
    } else if (!spec.detach) {  // (detached, stdio stays -1: the container's /dev/null)
        pipes.emplace(spec.stdin_fd >= 0);
        plan.process.stdio[0] = pipes->container_stdin();
        plan.process.stdio[1] = pipes->container_stdout();
        plan.process.stdio[2] = pipes->container_stderr();
    }
    Pipe report = make_report_pipe();
    plan.process.report_fd = report.write.get();
    plan.process.report_read_fd = report.read.get();
    ChildStack inner_stack;
    plan.inner_stack = &inner_stack;
    std::optional<ChildStack> command_stack;
    if (spec.detach) plan.command_stack = &command_stack.emplace();

    // Until they exec, the processes below share this process's memory while they are
    // visible inside the container: a container process that could ptrace them, or open
    // their /proc/PID/mem or /proc/PID/exe, would reach kiln (runc's CVE-2016-9962 and
    // CVE-2019-5736). A non-dumpable mm refuses that to anyone without CAP_SYS_PTRACE,
    // which containers lack; execve gives the command a fresh, dumpable one.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw_errno("prctl PR_SET_DUMPABLE");

    // Returns once the command has exec'd or failed: each hop is CLONE_VFORK.
    CloneResult cloned = clone_process(0, cgroups.v2_fd.get(), &plan.in_cgroup, joiner_main, &plan);
    ChildProcess joiner(cloned.pid, cloned.pidfd);
    std::optional<ChildProcess> command;
    if (!spec.detach && plan.command_pid > 0) command.emplace(plan.command_pid, -1);
    report.write.reset();
    if (pipes) pipes->close_container_ends();
    if (pty) pty->close_slave();

    std::optional<ChildReport> failure = read_child_report(report.read.get());
    joiner.wait();
    if (failure) {
        if (command) command->wait();
        if (failure->kind != ChildReport::exec) throw Error(std::string("exec setup: ") + failure->text);
        write_message(spec.stderr_fd, std::string(failure->text) + "\n");
        return failure->exit_code;
    }
    if (spec.detach) {
        if (pty) hold_pty_master(pty->master());
        return 0;
    }
    if (pty)
        relay_pty(*pty, spec.stdin_fd, spec.stdout_fd);
    else
        pipes->relay(spec.stdin_fd, spec.stdout_fd, spec.stderr_fd);
    return docker_exit_status(command->wait());
}

}  // namespace kiln::runtime
