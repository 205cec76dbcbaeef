#pragma once
// Values of `docker run` flags as a container's record keeps them (Docker's HostConfig
// shapes), shared by the parsers and the record.
#include <cstdint>
#include <string>

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

}  // namespace kiln::runtime
