#pragma once
// What `kiln build` flags set for every RUN step of a build (docker build's --network,
// --add-host, --shm-size, --ulimit), and how a RUN's container gets them.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/host_settings.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {
struct ContainerSpec;
}

namespace kiln::builder {

struct RunSettings {
    // The network of a RUN without --network (or with --network=default): "default"
    // (an isolated namespace with only lo), "none" (the same) or "host".
    std::string network = "default";
    std::vector<std::pair<std::string, std::string>> extra_hosts;  // (name, address)
    std::int64_t shm_size = 0;                                     // bytes; 0: the runtime's 64 MiB
    std::vector<runtime::Ulimit> ulimits;

    // The part of a RUN's cache key these settings make: empty when all are defaults, so
    // builds without the flags keep their keys.
    std::string cache_text() const;
};

// --add-host HOST:IP (or HOST=IP, as newer docker CLIs): the name and a valid IPv4 or IPv6
// address (or "host-gateway", for `run`'s bridge, when allow_host_gateway). Throws
// kiln::Error naming the flag.
std::pair<std::string, std::string> parse_add_host(const std::string& text, bool allow_host_gateway = false);

// --network for a build: default, none or host.
std::string parse_build_network(const std::string& text);

// Puts the settings into spec (all but the network, which the RUN's own flag may override). With extra hosts, the /etc/hosts bound into the container
// lives in the returned directory, which must outlive the container's run (null otherwise).
std::unique_ptr<TempDir> apply_run_settings(const RunSettings& settings, runtime::ContainerSpec& spec);

// After the RUN: removes the empty /etc/hosts the runtime made in upper_dir (the step's
// layer) as the bind's mount point where the image had none, as BuildKit drops its mount
// stubs. A RUN cannot have made that file itself: the bind covered it.
void remove_run_settings_stubs(const RunSettings& settings, const std::string& upper_dir);

}  // namespace kiln::builder
