#pragma once
// One container on the default bridge: its address lease, a network namespace made
// beforehand and configured from here (eth0 with its address and MAC, lo, the default
// route via kiln0), the veth between the two, and the DNAT rules of its published ports.
// The container process joins the namespace with setns() before it execs, so nothing
// has to happen between clone and exec. Everything is listed in the runtime dir first
// (netlink/release.hpp), so whoever outlives the container can release it.
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/host_settings.hpp"
#include "runtime/network/ipv4.hpp"
#include "runtime/network/network_store.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

struct BridgeRequest {
    std::string container_id;
    std::string runtime_dir;
    std::optional<std::uint32_t> address;  // --ip
    std::string mac;                       // --mac-address; "": Docker's, from the address
    PortMap ports;                         // -p/-P; a host port "" (or "0") is any free one
    // A user-defined network instead of kiln0: its bridge, leases and gateway (no default
    // route when it is internal).
    std::optional<NetworkDefinition> network;
};

// What inspect shows of a running container's attachment (read back from its runtime dir).
struct BridgeEndpoint {
    std::string network_id;  // "": kiln0
    std::string address, gateway, mac;
    int prefix_len = 0;
};

class BridgeAttachment {
public:
    // Throws kiln::Error (a host port in use, a bad --ip, ...) having released what it made.
    explicit BridgeAttachment(const BridgeRequest& request);
    // Releases everything unless the container's monitor took over; the veth goes with the
    // namespace, in the kernel's time.
    ~BridgeAttachment();
    BridgeAttachment(const BridgeAttachment&) = delete;
    BridgeAttachment& operator=(const BridgeAttachment&) = delete;

    int netns_fd() const { return netns_.get(); }
    // On a user-defined network: makes the container resolvable by `names` (its name,
    // aliases, short id) from the other members and them from it (netlink/peer_hosts.hpp),
    // its hosts.base written first. Listed for release before it is done.
    void join_peers(const std::string& container_id, const std::string& names);
    std::uint32_t address() const { return address_; }
    std::uint32_t gateway() const { return gateway_; }

private:
    void attach(const BridgeRequest& request);
    std::string runtime_dir_;
    std::string network_id_;  // "": kiln0
    UniqueFd netns_;
    Subnet subnet_;
    std::uint32_t address_ = 0, gateway_ = 0;
};

// The endpoint of a running container (its runtime dir's attachment file); nullopt when
// it has none (not running, or not on the bridge).
std::optional<BridgeEndpoint> bridge_endpoint(const std::string& container_id);

// The ports a running container publishes, with the host ports chosen for it (Docker's
// NetworkSettings.Ports); empty when it is not running.
PortMap published_ports(const std::string& container_id);

}  // namespace kiln::runtime
