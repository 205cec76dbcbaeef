#pragma once
#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/mount_spec.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/device_mapping.hpp"
#include "runtime/device_policy.hpp"
#include "runtime/network/container_network.hpp"
#include "runtime/tmpfs_mounts.hpp"
#include "runtime/ulimits.hpp"

namespace kiln::runtime {

struct BindMount {
    std::string source;       // host path (directory or file)
    std::string destination;  // path inside the container; created if missing
    bool readonly = false;
};

// A mount propagation type given to a bind with -v/--mount: applied (MS_SHARED, MS_SLAVE,
// MS_PRIVATE, with MS_REC for the r- kinds) to the mount at destination after every bind.
struct MountPropagation {
    std::string destination;
    unsigned long flags = 0;
};

struct ContainerSpec {
    std::vector<std::string> args;  // argv; args[0] is looked up in PATH of env if not absolute
    std::vector<std::string> env;   // "K=V"; PATH, HOSTNAME and HOME are added when absent
    std::string cwd = "/";          // absolute ("" means "/"); created (as root) if missing, like Docker
    std::string user;               // "", "name", "uid", "name:group", "uid:gid" (resolved in the rootfs)
    std::string hostname;           // default: the first 12 hex digits of id
    image::MountSpec rootfs;
    std::vector<BindMount> binds;
    std::vector<MountPropagation> propagation;
    // The caller's stdio. The container never holds these descriptors: kiln relays them
    // through pipes (or the pty with tty) until the container's output is closed.
    int stdin_fd = -1;              // -1: the container's own /dev/null (with tty: no input)
    // Docker's OpenStdin for a detached container: a stdin pipe (or, with tty, input on
    // the pty) that its monitor writes for attach clients; handover() gives kiln's end.
    bool open_stdin = false;
    int stdout_fd = 1;
    int stderr_fd = 2;

    // Container id (64 hex digits); names the cgroups and defaults the hostname.
    // Empty: a fresh random one.
    std::string id;
    // A directory the caller owns for this run's state; the runtime mounts the rootfs on
    // "<state_dir>/rootfs" (creating it) inside the container's private mount namespace,
    // so the host never sees that mount and nothing needs unmounting afterwards.
    // Empty: the container's runtime directory (runtime_dir.hpp), removed after the run.
    std::string state_dir;
    // Share the host's network namespace instead of an isolated one with only `lo`.
    bool host_network = false;
    // `docker run --network` and its files' flags; the default (none) is a namespace with
    // only `lo`. host_network overrides it.
    ContainerNetwork network;
    // Like `docker run`: write hostname, hosts and resolv.conf (network_files.hpp) into
    // state_dir and bind them over /etc/hostname, /etc/hosts, /etc/resolv.conf (empty
    // files are created in the rootfs where missing). binds may still override them.
    bool network_files = false;
    // Resource limits; 0 means none. Like docker run --memory (bytes), --pids-limit, --cpus.
    std::int64_t memory_limit = 0;
    std::int64_t pids_limit = 0;
    double cpus = 0;
    // docker run --memory-swap (0: as much swap as memory, -1: unlimited),
    // --memory-reservation, --cpu-shares, --cpuset-cpus; 0 or "" means unset.
    std::int64_t memory_swap = 0;
    std::int64_t memory_reservation = 0;
    std::int64_t cpu_shares = 0;
    std::string cpuset_cpus;
    // The device nodes the container may create and open (enforced through cgroups).
    DevicePolicy devices = DevicePolicy::docker_default();
    // Like docker run -t: the container runs on a new pseudo-terminal (also its
    // /dev/console and controlling terminal); run_container relays stdin_fd to it and its
    // output to stdout_fd (stderr is merged, as with a real terminal).
    bool tty = false;
    // The seccomp program (compile_seccomp): nullptr means Docker's default profile, an
    // empty program no filter at all (`--security-opt seccomp=unconfined`).
    std::shared_ptr<const std::vector<sock_filter>> seccomp;
    // docker run --privileged (and RUN --security=insecure): every capability, no seccomp
    // filter, every device, /sys writable and /proc unmasked. Overrides seccomp and devices.
    bool privileged = false;
    // The capabilities of the container's processes (bounding, effective and permitted
    // sets; none for a non-root user): docker run --cap-add/--cap-drop. nullopt: Docker's
    // default set. privileged overrides it.
    std::optional<CapMask> capabilities;
    // docker run --ulimit: set in the container process before it execs.
    std::vector<Rlimit> rlimits;
    // docker run --tmpfs: mounted after /dev and before binds (so a bind may go inside one).
    std::vector<TmpfsMount> tmpfs;
    // The size of /dev/shm in bytes: docker run --shm-size.
    std::int64_t shm_size = 64 << 20;
    // docker run --device: nodes made in the container; `devices` must allow them.
    std::vector<DeviceNode> device_nodes;
    // docker run --init: this host binary (a static one) is bound read-only at
    // /sbin/docker-init and runs as pid 1 with args after "--".
    std::string init_binary;
    // A restart by the container's monitor, which holds the container's runtime dir with
    // this lock descriptor: the new run takes it over instead of making a new one.
    int runtime_dir_lock = -1;
};

// Where --init's binary appears in the container, as with Docker.
inline constexpr const char* container_init_path = "/sbin/docker-init";

// A container whose command this process started: its init is a child of this process.
// Destroying it kills and reaps the container if nobody waited for it, then removes its
// cgroups and runtime dir.
class StartedContainer {
public:
    struct State;
    explicit StartedContainer(std::unique_ptr<State> state);
    ~StartedContainer();
    StartedContainer(const StartedContainer&) = delete;
    StartedContainer& operator=(const StartedContainer&) = delete;

    pid_t pid() const;
    // 126 or 127 when the command could not be executed (the reason went to the spec's
    // stderr_fd); 0 when it runs.
    int exec_failure() const;
    // Relays the caller's stdio until the container's output closes, then reaps it;
    // returns Docker's exit status.
    int relay_and_wait();
    // After relay_and_wait: whether the kernel's OOM killer killed a process of the
    // container (Docker's State.OOMKilled).
    bool oom_killed() const;

    // What a monitor (runtime/detach.hpp) takes over, all close-on-exec descriptors it
    // inherits after clearing that flag.
    struct Handover {
        pid_t pid = -1;
        int pidfd = -1;
        int stdout_fd = -1;  // the container's output: a pipe, or the pty master with tty
        int stderr_fd = -1;  // -1 with tty (merged)
        int stdin_fd = -1;   // the container's input with open_stdin: its stdin pipe, or the pty master
        int lock_fd = -1;    // the runtime dir's lock
        std::string runtime_dir;
        std::vector<std::string> cgroup_dirs;
    };
    Handover handover() const;

private:
    std::unique_ptr<State> state_;
};

// Starts a container: clone, namespaces, cgroups, rootfs, confinement, execve (DESIGN's
// order). Returns once the command runs or could not be executed; throws kiln::Error
// when kiln fails before exec (exit 125), leaving nothing behind.
std::unique_ptr<StartedContainer> start_container(const ContainerSpec& spec);

// Runs a container in the foreground and waits for it. Returns Docker's exit status: the
// process's code, 128+signal if killed, 126 if the command cannot be executed, 127 if it
// does not exist (the reason goes to stderr_fd, as `docker run` prints it). Throws
// kiln::Error when kiln itself fails before exec (exit 125). SIGINT and SIGTERM received
// by this process while it waits are forwarded to the container.
// Thread safe: several containers may run at once from different threads.
int run_container(const ContainerSpec& spec);
// The same, calling on_start with the container's pid once its command runs, and
// on_exit with Docker's exit status and whether the OOM killer struck (State.OOMKilled)
// while its cgroups still exist.
int run_container(const ContainerSpec& spec, const std::function<void(pid_t)>& on_start,
                  const std::function<void(int, bool)>& on_exit = {});

// 64 random hex digits, like a Docker container id.
std::string generate_container_id();

}  // namespace kiln::runtime
