#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "builder/image_source.hpp"
#include "util/fd.hpp"

namespace kiln::image {
class Store;
}
namespace kiln::runtime {
struct ContainerSpec;
struct ContainerConfig;
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
    std::vector<std::string> volumes;            // -v [HOST|NAME:]CONTAINER[:OPTIONS] (builder/mount_flags.hpp)
    std::vector<std::string> mounts;             // --mount type=bind|volume|tmpfs,...
    std::vector<std::string> volumes_from;       // --volumes-from CONTAINER[:ro|rw]
    bool interactive = false;                    // -i: stdin passes through
    bool tty = false;                            // -t: a pseudo-terminal
    // As given on the command line; checked by flag_values.hpp before anything is created.
    std::string memory;                          // --memory: "512m", "1g", bytes
    std::string pids_limit;                      // --pids-limit
    std::string cpus;                            // --cpus
    std::string memory_swap;                     // --memory-swap: a size or -1
    std::string memory_reservation;              // --memory-reservation
    std::string cpu_shares;                      // -c, --cpu-shares
    std::string cpuset_cpus;                     // --cpuset-cpus: "0-1", "0,1"
    std::vector<std::string> security_opts;      // --security-opt seccomp=unconfined|FILE, no-new-privileges
    std::string name;                            // --name ("" : generated)
    bool detach = false;                         // -d
    bool auto_remove = false;                    // --rm
    bool privileged = false;                     // --privileged
    std::vector<std::string> labels;             // -l K=V
    std::string stop_signal;                     // --stop-signal ("" : the image's, or SIGTERM)
    std::optional<int> stop_timeout;             // --stop-timeout
    PullPolicy pull = PullPolicy::Missing;       // --pull
    ImagePuller puller;                          // how to pull an image not in the store
    std::vector<std::string> env_files;          // --env-file, read before -e
    std::string cidfile;                         // --cidfile
    std::vector<std::string> cap_add, cap_drop;  // --cap-add, --cap-drop
    bool read_only = false;                      // --read-only
    std::vector<std::string> tmpfs;              // --tmpfs PATH[:OPTIONS]
    std::string shm_size;                        // --shm-size ("" : 64m)
    std::vector<std::string> ulimits;            // --ulimit TYPE=SOFT[:HARD]
    std::vector<std::string> devices;            // --device HOST[:CONTAINER[:PERMS]]
    bool init = false;                           // --init
    std::string restart;                         // --restart ("" : no)
    std::string network;                         // --network ("" : bridge)
    std::vector<std::string> network_aliases;    // --network-alias
    std::string ip, mac_address;                 // --ip, --mac-address
    std::vector<std::string> dns, dns_search, dns_options;  // --dns, --dns-search, --dns-option
    std::vector<std::string> add_hosts;          // --add-host HOST:IP|host-gateway
    std::vector<std::string> publish;            // -p [IP:][HOST:]CONTAINER[/PROTO]
    bool publish_all = false;                    // -P
};

struct RunResult {
    std::string id;     // the container's full id
    int exit_code = 0;  // the container's status (foreground), or 126/127 when it could not start
};

// Throws kiln::Error for a -u whose uid or gid is out of range, so it is refused before
// anything is created (the container checks again: USER can name a passwd entry only the
// image knows).
void check_user_spec(const std::string& user);

// Adds -e values to env, Docker's way: K=V replaces K; a bare K takes kiln's own value of
// K, or is dropped when kiln has none.
void apply_env_flags(std::vector<std::string>& env, const std::vector<std::string>& flags);

// Applies --security-opt values to the spec: seccomp=unconfined (no filter), seccomp=FILE
// (a Docker profile, compiled here), seccomp=builtin (the default), no-new-privileges[=true]
// (always on in kiln). Throws kiln::Error for anything else, before anything is created.
void apply_security_opts(const std::vector<std::string>& opts, runtime::ContainerSpec& spec);

// The confinement of every process of the container (its init and its execs): the
// --security-opt values, --cap-add/--cap-drop (with the seccomp program for that set) and
// --ulimit, as recorded in c.
void apply_process_settings(const runtime::ContainerConfig& c, runtime::ContainerSpec& spec);

// What `kiln create` records for options: the image's config merged with the flags, as
// Docker does. Checks every flag; creates nothing.
runtime::ContainerConfig container_config(image::Store& store, const RunOptions& options);

// `kiln create`: the container's record and writable layer (runtime/container_records.hpp).
std::string create_container(image::Store& store, const RunOptions& options);

// The spec that starts a recorded container (over its kept snapshot, with its stdio
// the caller's).
runtime::ContainerSpec container_spec(image::Store& store, const runtime::ContainerConfig& config);

// `kiln start`: starts a recorded container under a monitor and returns at once; 0, or
// 126/127 when its command cannot be executed. Throws kiln::Error if it already runs.
// attach_client (`start -a`): set to a connection to the monitor made before the
// container runs (runtime/attach_client.hpp serves it).
int start_detached(image::Store& store, const std::string& id, UniqueFd* attach_client = nullptr);

// `kiln container-restart`, which a detached container's monitor runs in its own place
// when the restart policy says so (runtime/detach.hpp): records the count, starts the
// container again over the runtime dir the monitor held (lock_fd) and execs the next
// monitor. Records the container exited when it cannot start; does nothing after a stop.
void restart_from_monitor(image::Store& store, const std::string& id, int restarts, std::int64_t delay_ms, int lock_fd);

// Docker's RestartCount: restarts by the policy since the last start by hand.
int restart_count(image::Store& store, const std::string& id);

// `kiln run`: creates the container, then with -d starts it detached, otherwise runs it
// in the foreground and keeps it, exited, unless --rm (Docker's rules for the status:
// 126 not executable, 127 not found, 128+N killed by signal N). Throws kiln::Error when
// kiln fails before the command starts, leaving no container behind.
RunResult run_image(image::Store& store, const RunOptions& options);

// The container's argv from image config and flags, as Docker composes it.
std::vector<std::string> container_args(const std::vector<std::string>& image_entrypoint,
                                        const std::vector<std::string>& image_cmd,
                                        const RunOptions& options);

}  // namespace kiln::builder
