#include "runtime/network/network_config.hpp"

#include <nlohmann/json.hpp>

namespace kiln::runtime {

nlohmann::json network_config_json(const NetworkConfig& n) {
    nlohmann::json connected = nlohmann::json::array();
    for (const auto& c : n.connected)
        connected.push_back({{"name", c.name}, {"network_id", c.network_id}, {"aliases", c.aliases}, {"ip", c.ip}});
    return {{"connected", connected}, {"first_disconnected", n.first_disconnected}, {"mode", n.mode}, {"ip", n.ip}, {"mac", n.mac}, {"dns", n.dns}, {"dns_search", n.dns_search},
            {"dns_options", n.dns_options}, {"extra_hosts", n.extra_hosts}, {"network_id", n.network_id},
            {"aliases", n.aliases}};
}

bool on_network(const NetworkConfig& n, const std::string& network_id) {
    if (!n.first_disconnected && (network_id.empty() ? n.mode == "bridge" : n.network_id == network_id)) return true;
    for (const auto& c : n.connected)
        if (c.network_id == network_id) return true;
    return false;
}

NetworkConfig network_config_from_json(const nlohmann::json& record) {
    NetworkConfig n;
    if (!record.contains("network")) {
        n.mode = "none";
        return n;
    }
    const auto& j = record["network"];
    n.mode = j.value("mode", std::string("bridge"));
    n.ip = j.value("ip", std::string());
    n.mac = j.value("mac", std::string());
    n.dns = j.value("dns", std::vector<std::string>{});
    n.dns_search = j.value("dns_search", std::vector<std::string>{});
    n.dns_options = j.value("dns_options", std::vector<std::string>{});
    n.extra_hosts = j.value("extra_hosts", std::vector<std::string>{});
    n.network_id = j.value("network_id", std::string());
    n.aliases = j.value("aliases", std::vector<std::string>{});
    n.first_disconnected = j.value("first_disconnected", false);
    if (j.contains("connected") && j["connected"].is_array())
        for (const auto& c : j["connected"])
            n.connected.push_back({c.value("name", std::string()), c.value("network_id", std::string()),
                                   c.value("aliases", std::vector<std::string>{}), c.value("ip", std::string())});
    return n;
}

}  // namespace kiln::runtime
