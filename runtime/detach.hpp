#pragma once
// `kiln run -d` / `kiln start`: the container outlives kiln under kiln-monitor (DESIGN
// "Process model"). kiln forks twice (setsid between, so the monitor has no terminal and
// is nobody's child in kiln's session); the grandchild starts the container through the
// one start path (container.hpp) and then execs kiln-monitor in place, which so becomes
// the container's parent with its pidfd, output pipes and runtime-dir lock inherited.
#include <string>

#include "runtime/container.hpp"

namespace kiln::runtime {

struct DetachPaths {
    std::string monitor_binary;  // kiln-monitor
    std::string log_file;        // the json-file log (appended to)
    std::string exit_file;       // where the monitor records "<code> <finished ns>"
};

struct DetachedStart {
    pid_t pid = 0;         // the container's init, on the host
    int exec_failure = 0;  // 126/127 when the command could not be executed (nothing runs)
};

// Starts spec detached. Its stdio must be the defaults (no stdin; the output goes to the
// log). Throws kiln::Error with the container's setup error when it cannot start.
DetachedStart start_detached(const ContainerSpec& spec, const DetachPaths& paths);

// The running kiln binary (/proc/self/exe).
std::string kiln_binary();
// kiln-monitor beside the running kiln binary.
std::string default_monitor_binary();
// kiln-init (docker run --init) beside the running kiln binary.
std::string default_init_binary();

}  // namespace kiln::runtime
