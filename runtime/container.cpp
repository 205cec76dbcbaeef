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
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "runtime/cgroups.hpp"
#include "runtime/child_process.hpp"
#include "runtime/child_report.hpp"
#include "runtime/mount_propagation.hpp"
#include "runtime/namespaces.hpp"
#include "runtime/network/network_setup.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/runtime_dir.hpp"
#include "runtime/stdio_relay.hpp"
#include "runtime/tty.hpp"
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

// --- what the child needs, prepared by the parent ---------------------------------------

struct ChildPlan {
    std::vector<std::string> args;  // the spec's, after the init with --init
    std::string shm_options;
    ProcessPlan process;
    RootfsPlan rootfs;
    std::vector<BindMount> binds;  // network files, then the spec's
    std::string hostname;
    bool new_net = true;
    int join_netns = -1;  // a namespace made or chosen by the parent (network_setup.hpp)
    const Cgroup* cgroup = nullptr;
    bool in_cgroup = false;  // set by clone_process: already in the cgroup2 group
};

// --- container side ----------------------------------------------------------------------

// Everything from clone to execve, in DESIGN's order. Returns only on failure.
void container_setup(ChildPlan& p, ChildReport& r) {
    reset_signals(p.process);
    ::umask(0);
    // First, so the kernel memory of everything below is charged to the container.
    for (const auto& file : p.cgroup->v1_tasks_files())
        if (!join_cgroup_self(file, r)) return;
    if (!p.in_cgroup && !p.cgroup->v2_procs_file().empty() && !join_cgroup_self(p.cgroup->v2_procs_file(), r))
        return;
    if (!enter_session(p.process, r)) return;
    // Before the rootfs: its /sys shows the network namespace of whoever mounts it.
    if (p.join_netns >= 0 && ::setns(p.join_netns, CLONE_NEWNET) != 0) {
        r.fail_errno(errno, "join the container's network namespace");
        return;
    }

    if (!setup_rootfs(p.rootfs, r)) return;
    if (!open_null_stdio(p.process, r)) return;
    if (!close_inherited_fds(p.process, r)) return;
    if (!set_hostname(p.hostname.c_str(), r)) return;
    if (p.new_net && !bring_up_loopback(r)) return;

    // Now inside the container's cgroups: make them its cgroup namespace root.
    if (::unshare(CLONE_NEWCGROUP) != 0 && errno != EINVAL) {
        r.fail_errno(errno, "unshare cgroup namespace");
        return;
    }
    confine_and_exec(p.process, r);
}

int child_main(void* arg) {
    ChildPlan& p = *static_cast<ChildPlan*>(arg);
    ChildReport report;
    container_setup(p, report);
    report_and_exit(p.process, report);
}

// --- parent side -------------------------------------------------------------------------

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
    State(const std::string& id, int runtime_dir_lock)
        : runtime_dir(runtime_dir_lock >= 0 ? RuntimeDir(id, runtime_dir_lock) : RuntimeDir(id)) {}
    const ContainerSpec* spec = nullptr;  // valid until start_container returns, and in run_container
    RuntimeDir runtime_dir;  // first: whatever a kill -9 of this process leaves is found through it
    NetworkSetup network;    // released once the container is reaped, before its runtime dir goes
    std::optional<Cgroup> cgroup;
    std::optional<Pty> pty;
    std::optional<StdioPipes> pipes;
    std::optional<ForwardingHandlers> handlers;
    // `child` outlives `forward_target`: forwarding stops before the pidfd is closed, so a
    // signal never reaches a reused fd or pid.
    std::optional<ChildProcess> child;
    std::optional<ForwardTarget> forward_target;
    int exec_failure = 0;
    bool spec_open_stdin = false;  // (spec is gone by handover())
};

namespace {

CgroupLimits cgroup_limits(const ContainerSpec& spec) {
    return {spec.memory_limit, spec.pids_limit,        spec.cpus,       spec.memory_swap,
            spec.memory_reservation, spec.cpu_shares, spec.cpuset_cpus};
}

// The clone and everything the child needs, prepared here (see the file comment).
std::unique_ptr<StartedContainer::State> start(const ContainerSpec& spec, bool forward_signals) {
    if (spec.args.empty() || spec.args[0].empty()) throw Error("no command given for the container");
    if (spec.rootfs.type.empty()) throw Error("no root filesystem given for the container");
    if (!spec.cwd.empty() && spec.cwd.front() != '/')
        throw Error("the working directory \"" + spec.cwd + "\" is not an absolute path");

    validate_limits(cgroup_limits(spec));

    const std::string id = spec.id.empty() ? generate_container_id() : spec.id;
    auto state = std::make_unique<StartedContainer::State>(id, spec.runtime_dir_lock);
    state->spec = &spec;
    state->spec_open_stdin = spec.open_stdin;
    const std::string state_dir = spec.state_dir.empty() ? state->runtime_dir.path() : spec.state_dir;
    const std::string mountpoint = state_dir + "/rootfs";
    if (::mkdir(mountpoint.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("create " + mountpoint);

    ChildPlan plan;
    plan.hostname = spec.hostname.empty() ? id.substr(0, 12) : spec.hostname;
    plan.args = spec.args;
    if (!spec.init_binary.empty()) plan.args.insert(plan.args.begin(), {container_init_path, "--"});
    prepare_process(plan.process, plan.args, spec.env, plan.hostname, spec.user, spec.cwd,
                    spec.seccomp ? spec.seccomp.get() : nullptr);
    plan.process.create_cwd = true;
    if (spec.capabilities) plan.process.caps = *spec.capabilities;
    if (spec.privileged) make_privileged(plan.process);
    if (!spec.rlimits.empty()) plan.process.rlimits = &spec.rlimits;
    plan.binds = prepare_network(spec, id, state->runtime_dir.path(), state_dir, plan.hostname, state->network);
    plan.join_netns = state->network.netns_fd();
    if (!spec.init_binary.empty()) plan.binds.push_back({spec.init_binary, container_init_path, true});
    plan.binds.insert(plan.binds.end(), spec.binds.begin(), spec.binds.end());
    if (spec.shm_size <= 0) throw Error("the size of /dev/shm must be above 0");
    plan.shm_options = "mode=1777,size=" + std::to_string(spec.shm_size);
    plan.rootfs = {&spec.rootfs, mountpoint.c_str(), &plan.binds, spec.privileged, &spec.tmpfs, &spec.device_nodes,
                   plan.shm_options.c_str(), &spec.propagation};
    const PropagationPlan propagation = plan_propagation(spec.propagation, plan.binds, mountpoint);
    plan.rootfs.root_propagation = propagation.root_flags;
    plan.rootfs.private_parent = propagation.private_parent.c_str();
    plan.new_net = !spec.host_network && plan.join_netns < 0;

    // The container never gets one of the caller's descriptors: a pty of its own with -t,
    // pipes relayed by kiln otherwise (stdio_relay.hpp says why).
    if (spec.tty) {
        state->pty.emplace(spec.stdin_fd);
        plan.process.tty = true;
        plan.process.stdio[0] = plan.process.stdio[1] = plan.process.stdio[2] = state->pty->slave();
        plan.binds.insert(plan.binds.begin(), BindMount{state->pty->slave_path(), "/dev/console", false});
    } else {
        state->pipes.emplace(spec.stdin_fd >= 0 || spec.open_stdin);
        plan.process.stdio[0] = state->pipes->container_stdin();
        plan.process.stdio[1] = state->pipes->container_stdout();
        plan.process.stdio[2] = state->pipes->container_stderr();
    }
    Pipe report = make_report_pipe();
    plan.process.report_fd = report.write.get();
    plan.process.report_read_fd = report.read.get();

    state->cgroup.emplace(id, cgroup_limits(spec),
                           spec.privileged ? DevicePolicy::allow_all() : spec.devices);
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

    if (auto failure = read_child_report(report.read.get())) {
        state->child->wait();
        if (failure->kind != ChildReport::exec) throw Error(std::string("container setup: ") + failure->text);
        write_message(spec.stderr_fd, std::string(failure->text) + "\n");
        state->exec_failure = failure->exit_code;
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
    return docker_exit_status(state_->child->wait());
}

bool StartedContainer::oom_killed() const { return state_->cgroup->oom_kills() > 0; }

StartedContainer::Handover StartedContainer::handover() const {
    Handover h;
    h.pid = state_->child->pid();
    h.pidfd = state_->child->pidfd();
    if (state_->pty) {
        h.stdout_fd = state_->pty->master();
        if (state_->spec_open_stdin) h.stdin_fd = h.stdout_fd;
    } else {
        h.stdout_fd = state_->pipes->stdout_reader();
        h.stderr_fd = state_->pipes->stderr_reader();
        h.stdin_fd = state_->pipes->stdin_writer();
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

int run_container(const ContainerSpec& spec, const std::function<void(pid_t)>& on_start,
                  const std::function<void(int, bool)>& on_exit) {
    StartedContainer container(start(spec, true));
    if (on_start && !container.exec_failure()) on_start(container.pid());
    const int status = container.relay_and_wait();
    if (on_exit) on_exit(status, !container.exec_failure() && container.oom_killed());
    return status;
}

}  // namespace kiln::runtime
