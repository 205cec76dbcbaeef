#pragma once
// What a container's record keeps of its network flags (Docker's HostConfig.NetworkMode,
// Dns, DnsSearch, DnsOptions, ExtraHosts and Config.MacAddress, the --ip of its
// endpoint).
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kiln::runtime {

struct NetworkConfig {
    // "bridge", "none", "host", "container:<full id>" or a user-defined network's name.
    std::string mode = "bridge";
    std::string network_id;            // the user-defined network's id
    std::vector<std::string> aliases;  // --network-alias
    std::string ip, mac;
    std::vector<std::string> dns, dns_search, dns_options;
    std::vector<std::string> extra_hosts;  // "HOST:IP", checked
    // `network connect`: the networks beyond the first, in the order they were connected.
    struct Connected {
        std::string name, network_id;  // "bridge" and "" for kiln0
        std::vector<std::string> aliases;
        std::string ip;
    };
    std::vector<Connected> connected;
    // `network disconnect` of the network above: the container is no longer on it, and
    // starts on the first connected one (or with only lo), as Docker's endpoint list has it.
    bool first_disconnected = false;
};

// Whether the container's record names the network (its id; "" is kiln0) as one it is on.
bool on_network(const NetworkConfig& n, const std::string& network_id);

nlohmann::json network_config_json(const NetworkConfig& n);
// Records from before networks had only `lo`: they keep it ("none").
NetworkConfig network_config_from_json(const nlohmann::json& record);

}  // namespace kiln::runtime
