#pragma once
// `kiln run -d` / `kiln start`: the container outlives kiln under kiln-monitor (DESIGN
// "Process model"). kiln forks twice (setsid between, so the monitor has no terminal and
// is nobody's child in kiln's session); the grandchild starts the container through the
// one start path (container.hpp) and then execs kiln-monitor in place, which so becomes
// the container's parent with its pidfd, output pipes and runtime-dir lock inherited.
#include <functional>
#include <string>

#include "runtime/container.hpp"
#include "runtime/host_settings.hpp"

namespace kiln::runtime {

// What the monitor needs to apply a --restart policy: it runs
// `KILN --root STORE container-restart ID COUNT DELAY LOCKFD` in place of itself when the
// policy says so, which starts the container again and the next monitor after it.
struct MonitorRestart {
    RestartPolicy policy;       // "no": the monitor ends with the container
    int restarts = 0;           // so far (Docker's RestartCount)
    std::int64_t delay_ms = 0;  // the last backoff (0: none yet)
    std::string kiln_binary, store_root, container_id;
};

struct DetachPaths {
    std::string monitor_binary;  // kiln-monitor
    std::string log_file;        // the json-file log (appended to)
    std::string exit_file;       // where the monitor records "<code> <finished ns>"
    std::string oom_file;        // created by the monitor when the OOM killer struck
    // The container's folder and the attach socket listening in it (attach_socket.hpp),
    // which the monitor serves; -1: none.
    std::string attach_dir;
    int attach_listener = -1;
    bool stdin_once = false;     // Docker's StdinOnce: an attach client's end of input closes stdin
    // docker run -d --rm: the monitor has the container removed once it exits. Needs
    // restart's kiln_binary, store_root and container_id whatever the policy.
    bool auto_remove = false;
    MonitorRestart restart;
};

struct DetachedStart {
    pid_t pid = 0;         // the container's init, on the host
    int exec_failure = 0;  // 126/127 when the command could not be executed (nothing runs)
};

// Starts spec detached. Its stdio must be the defaults (stdin_fd -1, open_stdin for -i; the
// output goes to the log). Throws kiln::Error with the container's setup error when it
// cannot start.
DetachedStart start_detached(const ContainerSpec& spec, const DetachPaths& paths);

// The running kiln binary (/proc/self/exe).
std::string kiln_binary();
// The monitor's restart (see MonitorRestart): starts spec in this process, calls
// on_started with the container's pid, then execs the monitor in place. Returns only when
// the command could not be executed (126/127); throws kiln::Error when it cannot start.
int restart_in_place(const ContainerSpec& spec, const DetachPaths& paths, const std::function<void(pid_t)>& on_started);

// kiln-monitor beside the running kiln binary.
std::string default_monitor_binary();
// kiln-init (docker run --init) beside the running kiln binary.
std::string default_init_binary();

}  // namespace kiln::runtime
