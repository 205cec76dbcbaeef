#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "image/mount_spec.hpp"

namespace kiln::runtime {

struct BindMount {
    std::string source;       // host path
    std::string destination;  // path inside the container
    bool readonly = false;
};

struct ContainerSpec {
    std::vector<std::string> args;  // argv; args[0] is looked up in PATH of env if not absolute
    std::vector<std::string> env;   // "K=V"
    std::string cwd = "/";
    std::string user;               // "", "name", "uid", "name:group", "uid:gid" (resolved in the rootfs)
    std::string hostname;
    image::MountSpec rootfs;
    std::vector<BindMount> binds;
    int stdin_fd = -1;              // -1: /dev/null
    int stdout_fd = 1;
    int stderr_fd = 2;
};

// Runs a container in the foreground and waits for it. Returns Docker's exit status: the
// process's code, 128+signal if killed, 126 if the command cannot be executed, 127 if it
// does not exist. Throws kiln::Error when kiln itself fails before exec (exit 125).
int run_container(const ContainerSpec& spec);

}  // namespace kiln::runtime
