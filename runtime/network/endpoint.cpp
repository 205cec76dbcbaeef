#include "runtime/network/endpoint.hpp"

#include <unistd.h>
#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include "runtime/netlink/peer_hosts.hpp"
#include "runtime/netlink/release.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/leases.hpp"
#include "runtime/network/published_ports.hpp"
#include "runtime/network/user_network.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// A netlink socket that talks to the namespace netns_fd, opened by a short-lived thread
// so this process stays in its own.
std::unique_ptr<netlink::Socket> socket_in(int netns_fd) {
    std::unique_ptr<netlink::Socket> socket;
    int err = 0;
    std::thread opener([&] {
        if (::setns(netns_fd, CLONE_NEWNET) != 0) {
            err = errno;
            return;
        }
        try {
            socket = std::make_unique<netlink::Socket>();
        } catch (const std::system_error& e) {
            err = e.code().value();
        }
    });
    opener.join();
    if (err) throw_errno("enter the container's network namespace", err);
    return socket;
}

std::string network_key(const std::optional<NetworkDefinition>& network) {
    return network ? network->id.substr(0, 12) : std::string("bridge");
}

}  // namespace

EndpointLease lease_endpoint(netlink::Socket& host, const std::optional<NetworkDefinition>& network,
                             const std::string& container_id, std::optional<std::uint32_t> requested,
                             const std::string& mac, const std::string& veth, const std::string& list) {
    EndpointLease e;
    const std::string dir = network ? network_leases_dir(network->id) : leases_dir();
    LeaseLock lock(dir);
    std::string network_line;
    if (network) {
        ensure_network_bridge(host, *network);
        e.subnet = network->subnet;
        e.gateway = network->gateway;
        e.master = network_bridge_name(*network);
        e.address = lease_address(e.subnet, container_id, requested, dir, network->name, e.gateway);
        network_line = "netid " + network->id + "\n";
    } else {
        e.subnet = ensure_bridge(host);
        e.gateway = e.subnet.gateway();
        e.master = bridge_name;
        e.address = lease_address(e.subnet, container_id, requested);
    }
    if (mac.empty()) mac_for_address(e.address, e.mac);
    else if (!parse_mac(mac, e.mac)) throw Error("invalid --mac-address " + mac);
    atomic_write(list, "lease " + lease_path(e.address, dir) + " " + container_id + "\nveth " + veth + "\naddress " +
                           ipv4_text(e.address) + " " + std::to_string(e.subnet.prefix_len) + "\ngateway " +
                           ipv4_text(e.gateway) + "\nmac " + mac_text(e.mac) + "\n" + network_line,
                 0644, Durability::not_needed);
    return e;
}

void join_network_peers(const std::string& list, const std::string& network_id, const std::string& container_id,
                        const std::string& runtime_dir, std::uint32_t address, const std::string& names) {
    const std::string members = network_host_dir(network_id) + "/members";
    {
        std::ofstream out(list, std::ios::app);
        out << "member " << members << " " << container_id << "\n";
        if (!out.flush()) throw Error("cannot record the network membership in " + runtime_dir);
    }
    if (!netlink::join_peer_hosts(members, container_id, runtime_dir, ipv4_text(address) + "\t" + names))
        throw Error("cannot write the /etc/hosts files of the members of the container's network");
}

std::string endpoint_list_path(const std::string& runtime_dir, const std::optional<NetworkDefinition>& network) {
    return runtime_dir + "/" + netlink::attachment_file + "." + network_key(network);
}

void connect_endpoint(const ConnectRequest& request) {
    const std::string list = endpoint_list_path(request.runtime_dir, request.network);
    const std::string name = request.network ? request.network->name : std::string("bridge");
    try {
        netlink::Socket host;
        auto inside = socket_in(request.netns_fd);
        std::string interface;
        for (int n = 1; interface.empty(); ++n)
            if (inside->link_index("eth" + std::to_string(n)) == 0) interface = "eth" + std::to_string(n);
        // Host names are at most 15 bytes: the container's id and the network's, in part.
        const std::string veth = "vx" + request.container_id.substr(0, 7) + network_key(request.network).substr(0, 6);
        auto lease = lease_endpoint(host, request.network, request.container_id, request.address, "", veth, list);
        host.create_veth(veth, host.link_index(lease.master), interface, request.netns_fd, lease.mac);
        host.set_up(host.link_index(veth));
        const int index = inside->link_index(interface);
        inside->add_address(index, ipv4_wire(lease.address), lease.subnet.prefix_len);
        inside->set_up(index);
        if (request.network)
            join_network_peers(list, request.network->id, request.container_id, request.runtime_dir, lease.address,
                               request.names);
    } catch (const std::system_error& e) {
        netlink::release_endpoint(list, true);
        throw Error("cannot connect the container to " + name + ": " + e.what());
    } catch (...) {
        netlink::release_endpoint(list, true);
        throw;
    }
}

bool disconnect_endpoint(const std::string& runtime_dir, const std::string& network_id) {
    const std::string first = runtime_dir + "/" + netlink::attachment_file;
    for (const auto& list : netlink::endpoint_lists(runtime_dir)) {
        std::string text;
        try {
            text = read_file(list);
        } catch (const Error&) {
            continue;  // released meanwhile
        }
        if (parse_endpoint_list(text).network_id != network_id) continue;
        netlink::release_endpoint(list, true);
        // The first endpoint's published ports went with its rules.
        if (list == first) ::unlink((runtime_dir + "/" + published_ports_file).c_str());
        return true;
    }
    return false;
}

std::optional<BridgeEndpoint> endpoint_on_network(const std::string& container_id, const std::string& network_id) {
    auto first = bridge_endpoint(container_id);
    if (first && first->network_id == network_id) return first;
    for (auto& e : connected_endpoints(container_id))
        if (e.network_id == network_id) return e;
    return std::nullopt;
}

BridgeEndpoint parse_endpoint_list(const std::string& text) {
    BridgeEndpoint e;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream f(line);
        std::string kind;
        f >> kind;
        if (kind == "address") f >> e.address >> e.prefix_len;
        else if (kind == "gateway") f >> e.gateway;
        else if (kind == "mac") f >> e.mac;
        else if (kind == "netid") f >> e.network_id;
    }
    return e;
}

std::vector<BridgeEndpoint> connected_endpoints(const std::string& container_id) {
    std::vector<BridgeEndpoint> out;
    if (!runtime_dir_locked(container_id)) return out;
    const std::string dir = runtime_dirs_parent() + "/" + container_id;
    for (const auto& list : netlink::endpoint_lists(dir)) {
        if (list == dir + "/" + netlink::attachment_file) continue;
        try {
            out.push_back(parse_endpoint_list(read_file(list)));
        } catch (const Error&) {
            // Disconnected meanwhile.
        }
    }
    return out;
}

}  // namespace kiln::runtime
