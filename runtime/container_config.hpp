#pragma once
// What a container was created with (containers/<id>/config.json): enough to start it
// again from any later kiln process, and the inputs of Docker's inspect shape.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container.hpp"
#include "runtime/host_settings.hpp"
#include "runtime/network/network_config.hpp"

namespace kiln::runtime {

constexpr std::int64_t docker_shm_size = 64 << 20;

// A volume (runtime/volume_store.hpp) mounted in the container: -v NAME:/path, --mount
// type=volume, an image's VOLUME, or taken over with --volumes-from.
struct VolumeMount {
    std::string name;
    std::string destination;
    bool readonly = false;
    bool nocopy = false;
    bool anonymous = false;  // made for this container: `rm -v` and `run --rm` remove it
    std::string mode;        // Docker's Mount.Mode: -v's options ("z" when none), "" otherwise
};

struct ContainerConfig {
    std::string id;
    std::string name;
    std::string image;     // as the user named it
    std::string image_id;  // "sha256:…"
    std::optional<std::string> top_layer;  // chain ID under the container's snapshot
    std::int64_t created_ns = 0;

    std::vector<std::string> args;  // Docker's Path + Args
    std::vector<std::string> entrypoint, cmd;  // Docker's Config.Entrypoint / Config.Cmd
    std::vector<std::string> env;
    std::string cwd = "/";
    std::string user;
    std::string hostname;
    std::vector<BindMount> binds;
    std::int64_t memory_limit = 0;
    std::int64_t pids_limit = 0;
    double cpus = 0;
    // As ContainerSpec has them; memory_swap as Docker records it (twice the memory when
    // only --memory was given).
    std::int64_t memory_swap = 0;
    std::int64_t memory_reservation = 0;
    std::int64_t cpu_shares = 0;
    std::string cpuset_cpus;
    bool tty = false;
    bool interactive = false;
    // Docker's StdinOnce: -i on a container created to be attached (not -d): the end of
    // the first attached client's input closes the container's stdin.
    bool stdin_once = false;
    bool auto_remove = false;  // --rm
    bool privileged = false;   // --privileged (its execs get the same)
    std::vector<std::string> security_opts;
    std::map<std::string, std::string> labels;
    std::string stop_signal = "SIGTERM";
    std::optional<int> stop_timeout;  // seconds; Docker's default 10 when unset
    std::vector<std::string> cap_add, cap_drop;  // "CAP_NET_ADMIN" or "ALL"
    bool readonly_rootfs = false;                // --read-only
    std::map<std::string, std::string> tmpfs;    // --tmpfs PATH -> OPTIONS
    std::int64_t shm_size = docker_shm_size;     // --shm-size, bytes
    std::vector<Ulimit> ulimits;
    std::vector<DeviceMapping> devices;
    bool init = false;  // --init
    RestartPolicy restart;
    PortMap port_bindings;  // -p, and -P's EXPOSEd ports (a host port "": any free one)
    NetworkConfig network;  // --network, --ip, --mac-address, --dns*, --add-host
    std::vector<VolumeMount> volumes;
    std::vector<std::string> volumes_from;  // --volumes-from as given (HostConfig.VolumesFrom)
    // A bind's destination -> its -v/--mount propagation (shared, rslave, ...); absent: rprivate.
    std::map<std::string, std::string> bind_propagation;
};

std::string config_to_json(const ContainerConfig& config);
ContainerConfig config_from_json(const std::string& json);

// Signal numbers from Docker's spellings: "SIGTERM", "TERM", "term", "15".
// Throws kiln::Error ("Invalid signal: …") for anything else.
int parse_signal(const std::string& text);

}  // namespace kiln::runtime
