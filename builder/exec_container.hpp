#pragma once
// `kiln exec`'s flags over what a container was created with, as Docker merges them.
#include <optional>
#include <string>
#include <vector>

#include "runtime/exec.hpp"

namespace kiln::runtime {
struct ContainerConfig;
}

namespace kiln::builder {

struct ExecOptions {
    std::vector<std::string> command;
    std::vector<std::string> env;        // -e K=V or -e K, over the container's env
    std::optional<std::string> user;     // -u, instead of the container's user
    std::optional<std::string> workdir;  // -w, instead of the container's working directory
    bool interactive = false;            // -i
    bool tty = false;                    // -t
    bool detach = false;                 // -d
};

// The process to start in the container (everything but its init's pidfd): the
// container's env with -e, HOSTNAME and seccomp profile (its --security-opt values read
// again), its user and working directory unless -u/-w. Throws kiln::Error for bad flags.
runtime::ExecSpec exec_spec(const runtime::ContainerConfig& config, const ExecOptions& options);

}  // namespace kiln::builder
