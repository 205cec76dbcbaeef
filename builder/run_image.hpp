#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::image {
class Store;
}
namespace kiln::runtime {
struct ContainerSpec;
}

namespace kiln::builder {

struct RunOptions {
    std::string image;
    std::vector<std::string> command;            // replaces the image's CMD when not empty
    std::optional<std::string> entrypoint;       // --entrypoint ("" clears it)
    std::vector<std::string> env;                // -e K=V or -e K (taken from kiln's env)
    std::optional<std::string> workdir;          // -w
    std::optional<std::string> user;             // -u
    std::optional<std::string> hostname;         // -h
    std::vector<std::string> volumes;            // -v HOST:CONTAINER[:ro]
    bool interactive = false;                    // -i: stdin passes through
    bool tty = false;                            // -t: a pseudo-terminal
    // As given on the command line; checked by flag_values.hpp before anything is created.
    std::string memory;                          // --memory: "512m", "1g", bytes
    std::string pids_limit;                      // --pids-limit
    std::string cpus;                            // --cpus
    std::vector<std::string> security_opts;      // --security-opt seccomp=unconfined|FILE, no-new-privileges
};

// Applies --security-opt values to the spec: seccomp=unconfined (no filter), seccomp=FILE
// (a Docker profile, compiled here), seccomp=builtin (the default), no-new-privileges[=true]
// (always on in kiln). Throws kiln::Error for anything else, before anything is created.
void apply_security_opts(const std::vector<std::string>& opts, runtime::ContainerSpec& spec);

// Runs a container from an image in the foreground and returns its exit status (Docker's
// rules: 126 not executable, 127 not found, 128+N killed by signal N). Throws kiln::Error
// when kiln fails before the command starts.
int run_image(image::Store& store, const RunOptions& options);

// The container's argv from image config and flags, as Docker composes it.
std::vector<std::string> container_args(const std::vector<std::string>& image_entrypoint,
                                        const std::vector<std::string>& image_cmd,
                                        const RunOptions& options);

}  // namespace kiln::builder
