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
#include "runtime/network/endpoint.hpp"
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
    auto lease = lease_endpoint(host, request.network, request.container_id, request.address, request.mac, veth,
                                attachment_path(runtime_dir_));
    subnet_ = lease.subnet;
    gateway_ = lease.gateway;
    address_ = lease.address;
    if (request.network) network_id_ = request.network->id;
    Namespace ns = new_network_namespace();
    host.create_veth(veth, host.link_index(lease.master), "eth0", ns.fd.get(), lease.mac);
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
    join_network_peers(attachment_path(runtime_dir_), network_id_, container_id, runtime_dir_, address_, names);
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
    return parse_endpoint_list(text);
}

}  // namespace kiln::runtime
