#include "runtime/network/attachment.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include "runtime/netlink/netlink.hpp"
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

struct Namespace {
    UniqueFd fd;
    std::unique_ptr<netlink::Socket> socket;  // talks to the new namespace
};

// A new network namespace, made by a short-lived thread so this process stays in its own.
Namespace new_network_namespace() {
    Namespace ns;
    int err = 0;
    std::thread maker([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            err = errno;
            return;
        }
        ns.fd.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!ns.fd) {
            err = errno;
            return;
        }
        try {
            ns.socket = std::make_unique<netlink::Socket>();
        } catch (const std::system_error& e) {
            err = e.code().value();
        }
    });
    maker.join();
    if (err) throw_errno("create the container's network namespace", err);
    return ns;
}

std::string attachment_path(const std::string& runtime_dir) { return runtime_dir + "/" + netlink::attachment_file; }

}  // namespace

BridgeAttachment::BridgeAttachment(const BridgeRequest& request) : runtime_dir_(request.runtime_dir) {
    try {
        attach(request);
    } catch (const std::system_error& e) {
        netlink::release_attachment(runtime_dir_);
        throw Error("cannot attach the container to " + (request.network ? request.network->name : std::string(bridge_name)) +
                    ": " + e.what());
    } catch (...) {
        netlink::release_attachment(runtime_dir_);
        throw;
    }
}

void BridgeAttachment::attach(const BridgeRequest& request) {
    // Before anything is made: a host port in use is the user's error.
    PortMap published = choose_host_ports(request.ports);
    netlink::Socket host;
    const std::string veth = "veth" + request.container_id.substr(0, 11);
    unsigned char mac[6];
    std::string master = bridge_name, network_line;
    {
        const std::string dir = request.network ? network_leases_dir(request.network->id) : leases_dir();
        LeaseLock lock(dir);
        if (request.network) {
            const NetworkDefinition& n = *request.network;
            ensure_network_bridge(host, n);
            subnet_ = n.subnet;
            gateway_ = n.gateway;
            master = network_bridge_name(n);
            address_ = lease_address(subnet_, request.container_id, request.address, dir, n.name, gateway_);
            network_line = "netid " + n.id + "\n";
            network_id_ = n.id;
        } else {
            subnet_ = ensure_bridge(host);
            gateway_ = subnet_.gateway();
            address_ = lease_address(subnet_, request.container_id, request.address);
        }
        if (request.mac.empty()) mac_for_address(address_, mac);
        else if (!parse_mac(request.mac, mac)) throw Error("invalid --mac-address " + request.mac);
        atomic_write(attachment_path(runtime_dir_),
                     "lease " + lease_path(address_, dir) + " " + request.container_id + "\nveth " + veth +
                         "\naddress " + ipv4_text(address_) + " " + std::to_string(subnet_.prefix_len) + "\ngateway " +
                         ipv4_text(gateway_) + "\nmac " + mac_text(mac) + "\n" + network_line);
    }
    Namespace ns = new_network_namespace();
    host.create_veth(veth, host.link_index(master), "eth0", ns.fd.get(), mac);
    host.set_up(host.link_index(veth));
    netlink::Socket& inside = *ns.socket;
    inside.set_up(inside.link_index("lo"));
    int eth0 = inside.link_index("eth0");
    inside.add_address(eth0, ipv4_wire(address_), subnet_.prefix_len);
    inside.set_up(eth0);
    if (!request.network || !request.network->internal) inside.add_default_route(ipv4_wire(gateway_));
    netns_ = std::move(ns.fd);
    if (!published.empty()) add_port_rules(runtime_dir_, published, address_);
}

void BridgeAttachment::join_peers(const std::string& container_id, const std::string& names) {
    if (network_id_.empty()) return;
    const std::string members = network_host_dir(network_id_) + "/members";
    {
        std::ofstream list(attachment_path(runtime_dir_), std::ios::app);
        list << "member " << members << " " << container_id << "\n";
        if (!list.flush()) throw Error("cannot record the network membership in " + runtime_dir_);
    }
    if (!netlink::join_peer_hosts(members, container_id, runtime_dir_, ipv4_text(address_) + "\t" + names))
        throw Error("cannot write the /etc/hosts files of the members of the container's network");
}

// The namespace (and with it the veth) goes once the container has exited and netns_ is
// closed, below.
BridgeAttachment::~BridgeAttachment() { netlink::release_attachment(runtime_dir_, false); }

std::optional<BridgeEndpoint> bridge_endpoint(const std::string& container_id) {
    if (!runtime_dir_locked(container_id)) return std::nullopt;
    std::string text;
    try {
        text = read_file(attachment_path(runtime_dirs_parent() + "/" + container_id));
    } catch (const Error&) {
        return std::nullopt;
    }
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

}  // namespace kiln::runtime
