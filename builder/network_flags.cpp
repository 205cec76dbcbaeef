#include "builder/network_flags.hpp"

#include <nlohmann/json.hpp>

#include "builder/run_image.hpp"
#include "builder/run_settings.hpp"
#include "image/store.hpp"
#include "runtime/container.hpp"
#include "runtime/container_config.hpp"
#include "runtime/container_records.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/network_store.hpp"
#include "runtime/network/subnet_pool.hpp"
#include "runtime/network/published_ports.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

constexpr const char* container_prefix = "container:";

std::string network_mode(image::Store& store, const std::string& flag, runtime::NetworkConfig& n) {
    if (flag.empty() || flag == "default" || flag == "bridge") return "bridge";
    if (flag == "none" || flag == "host") return flag;
    if (flag.starts_with(container_prefix)) {
        const std::string name = flag.substr(std::string_view(container_prefix).size());
        if (name.empty()) throw Error("invalid --network " + flag + ": give container:NAME or container:ID");
        return container_prefix + runtime::ContainerRecords(store).resolve(name).id;
    }
    auto user = runtime::NetworkStore(store.root()).find(flag);
    if (!user) throw Error("network " + flag + " not found");
    n.network_id = user->id;
    return user->name;
}

// The subnet the bridge has, or would get if it were made now.
runtime::Subnet bridge_subnet() {
    if (auto existing = runtime::existing_bridge_subnet()) return *existing;
    return runtime::choose_bridge_subnet(read_file("/proc/net/route"));
}

}  // namespace

void apply_network_flags(image::Store& store, const RunOptions& o, const nlohmann::json& image_settings,
                         runtime::ContainerConfig& c) {
    auto& n = c.network;
    n.mode = network_mode(store, o.network, n);
    const bool user = !n.network_id.empty();
    const bool bridge = n.mode == "bridge" || user;
    auto bridge_only = [&](const char* flag) {
        if (!bridge) throw Error(std::string("conflicting options: ") + flag + " and the network mode " + n.mode);
    };
    if (!o.ip.empty()) {
        bridge_only("--ip");
        auto address = runtime::parse_ipv4(o.ip);
        if (!address) throw Error("invalid --ip " + o.ip + ": not an IPv4 address");
        std::optional<runtime::NetworkDefinition> network;
        if (user) network = runtime::NetworkStore(store.root()).get(n.network_id);
        runtime::Subnet subnet = network ? network->subnet : bridge_subnet();
        const std::uint32_t gateway = network ? network->gateway : subnet.gateway();
        if (!subnet.contains(*address) || *address == subnet.network || *address == gateway ||
            *address == subnet.broadcast())
            throw Error("invalid --ip " + o.ip + ": it is not a container address in " +
                        (network ? network->name : std::string(runtime::bridge_name)) + "'s subnet " + subnet.text());
        n.ip = o.ip;
    }
    if (!o.mac_address.empty()) {
        bridge_only("--mac-address");
        unsigned char mac[6];
        if (!runtime::parse_mac(o.mac_address, mac)) throw Error("invalid --mac-address " + o.mac_address);
        n.mac = o.mac_address;
    }
    for (const auto& dns : o.dns)
        if (!runtime::parse_ipv4(dns) && dns.find(':') == std::string::npos)
            throw Error("invalid --dns " + dns + ": not an IP address");
    n.dns = o.dns;
    n.dns_search = o.dns_search;
    n.dns_options = o.dns_options;
    for (const auto& host : o.add_hosts) {
        auto [name, address] = parse_add_host(host, true);
        n.extra_hosts.push_back(name + ":" + address);
    }
    if (n.mode.starts_with(container_prefix) && o.hostname)
        throw Error("conflicting options: --hostname and the network mode " + n.mode);
    if (!o.network_aliases.empty() && !user)
        throw Error("network-scoped aliases are only supported for user-defined networks");
    for (const auto& alias : o.network_aliases) {
        runtime::validate_host_alias(alias);
        n.aliases.push_back(alias);
    }
    if (user && (!o.publish.empty() || o.publish_all))
        throw Error("kiln publishes ports on the default bridge only, not on network " + n.mode);
    for (const auto& p : o.publish) {
        bridge_only("-p");
        auto [key, binding] = runtime::parse_publish(p);
        c.port_bindings[key].push_back(binding);
    }
    if (o.publish_all && image_settings.contains("ExposedPorts") && image_settings["ExposedPorts"].is_object()) {
        bridge_only("-P");
        for (const auto& [port, ignored] : image_settings["ExposedPorts"].items()) {
            std::string key = port.find('/') == std::string::npos ? port + "/tcp" : port;
            runtime::parse_publish(key);  // an image's odd EXPOSE is refused here, not at start
            if (!c.port_bindings.contains(key)) c.port_bindings[key].push_back({});
        }
    }
}

void apply_network_settings(image::Store& store, const runtime::ContainerConfig& c, runtime::ContainerSpec& spec) {
    using Mode = runtime::ContainerNetwork::Mode;
    const auto& n = c.network;
    auto& net = spec.network;
    if (n.mode == "none") net.mode = Mode::none;
    else if (n.mode == "host") spec.host_network = true, net.mode = Mode::host;
    else if (n.mode == "bridge") net.mode = Mode::bridge;
    else if (!n.network_id.empty()) {
        auto network = runtime::NetworkStore(store.root()).find(n.network_id);
        if (!network) throw Error("network " + n.mode + " not found");
        net.mode = Mode::user;
        net.user_network = *network;
        net.aliases = n.aliases;
        net.container_name = c.name;
    } else {
        net.mode = Mode::container;
        runtime::ContainerRecords records(store);
        auto row = records.refresh(records.resolve(n.mode.substr(std::string_view(container_prefix).size())));
        if (row.state != "running") throw Error("cannot join the network of container " + row.name + ": it is not running");
        net.join_id = row.id;
        net.join_pid = static_cast<pid_t>(row.pid);
        spec.hostname = records.config(row).hostname;
    }
    for (const auto& connected : n.connected) {
        runtime::ContainerNetwork::Connected extra;
        if (!connected.network_id.empty()) {
            extra.network = runtime::NetworkStore(store.root()).find(connected.network_id);
            if (!extra.network) throw Error("network " + connected.name + " not found");
        }
        extra.aliases = connected.aliases;
        if (!connected.ip.empty()) extra.address = runtime::parse_ipv4(connected.ip);
        net.connected.push_back(std::move(extra));
    }
    if (net.container_name.empty()) net.container_name = c.name;
    if (!n.ip.empty()) net.address = runtime::parse_ipv4(n.ip);
    net.mac = n.mac;
    net.ports = c.port_bindings;
    if (n.first_disconnected) {
        // Disconnected from the network it was created on: the first network it was
        // connected to since is eth0 now, with the default route (only lo when none is).
        net.address.reset();
        net.mac.clear();
        net.ports.clear();
        if (net.connected.empty()) {
            net.mode = Mode::none;
        } else {
            auto first = std::move(net.connected.front());
            net.connected.erase(net.connected.begin());
            net.mode = first.network ? Mode::user : Mode::bridge;
            net.user_network = first.network;
            net.aliases = first.aliases;
            net.address = first.address;
            // The ports were published on the first network; on kiln0 they stay.
            if (!first.network && n.mode == "bridge") net.ports = c.port_bindings;
        }
    }
    net.dns = n.dns;
    net.dns_search = n.dns_search;
    net.dns_options = n.dns_options;
    for (const auto& host : n.extra_hosts) {
        auto colon = host.find(':');
        net.extra_hosts.emplace_back(host.substr(0, colon), host.substr(colon + 1));
    }
}

}  // namespace kiln::builder
