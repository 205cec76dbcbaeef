#pragma once
// Values of `docker run` flags as a container's record keeps them (Docker's HostConfig
// shapes), shared by the parsers and the record.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::runtime {

// --ulimit TYPE=SOFT[:HARD], as Docker's HostConfig.Ulimits holds it.
struct Ulimit {
    std::string name;  // "nofile", "nproc", ...
    std::int64_t soft = 0, hard = 0;
    bool operator==(const Ulimit&) const = default;
};

// --device HOST[:CONTAINER[:PERMS]], as Docker's HostConfig.Devices holds it.
struct DeviceMapping {
    std::string host, container;
    std::string permissions = "rwm";
    bool operator==(const DeviceMapping&) const = default;
};

// --restart: Docker's HostConfig.RestartPolicy.
struct RestartPolicy {
    std::string name = "no";  // "no", "always", "unless-stopped", "on-failure"
    int max_retries = 0;      // on-failure:N; 0 means no limit
    bool operator==(const RestartPolicy&) const = default;
};

// -p: one host address a container port is published on (HostConfig.PortBindings).
struct PortBinding {
    std::string host_ip;  // "" or "0.0.0.0" for every address
    std::string host_port;
    bool operator==(const PortBinding&) const = default;
};
// "80/tcp" → where it is published.
using PortMap = std::map<std::string, std::vector<PortBinding>>;

}  // namespace kiln::runtime
