#pragma once
// A container's endpoint on a network (kiln0 or a user-defined one): an address leased
// under the network's lease lock, the veth whose host end sits on the network's bridge,
// and a list file in the runtime dir naming all of it (netlink/release.hpp), written
// before any of it is made. The first endpoint is eth0, made with the container's own
// namespace (attachment.hpp); `kiln network connect` adds eth1, eth2… to a running
// container's namespace, or to a starting one's for the networks it was connected to
// while stopped.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/netlink/netlink.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/ipv4.hpp"
#include "runtime/network/network_store.hpp"

namespace kiln::runtime {

struct EndpointLease {
    Subnet subnet;
    std::uint32_t address = 0, gateway = 0;
    std::string master;  // the network's bridge
    unsigned char mac[6] = {};
};

// Makes the network's bridge if missing and leases the address (requested, or the lowest
// free), then writes `list` naming the lease, the host veth and what inspect shows, all
// under the network's lease lock. network nullopt: kiln0. mac "": Docker's, from the address.
EndpointLease lease_endpoint(netlink::Socket& host, const std::optional<NetworkDefinition>& network,
                             const std::string& container_id, std::optional<std::uint32_t> requested,
                             const std::string& mac, const std::string& veth, const std::string& list);

// Makes the container resolvable as `names` by the user-defined network's other members
// and them by it (netlink/peer_hosts.hpp), listed in `list` for release before it is done.
void join_network_peers(const std::string& list, const std::string& network_id, const std::string& container_id,
                        const std::string& runtime_dir, std::uint32_t address, const std::string& names);

// Which list file of a runtime dir an added endpoint on the network has.
std::string endpoint_list_path(const std::string& runtime_dir, const std::optional<NetworkDefinition>& network);

struct ConnectRequest {
    std::string container_id, runtime_dir;
    int netns_fd = -1;  // the container's network namespace
    std::optional<NetworkDefinition> network;  // nullopt: kiln0
    std::optional<std::uint32_t> address;      // --ip
    std::string names;                          // name, aliases and short id, for a user network's peers
};

// Adds the container to the network as the lowest free ethN (N ≥ 1), with no default
// route (the first network keeps it, as Docker's gateway priority does by default) and,
// on a user-defined network, resolvable by its peers. Throws kiln::Error (a bad or taken
// --ip, ...) having released what it made.
void connect_endpoint(const ConnectRequest& request);

// Removes the container's endpoint on the network (its id; "" is kiln0), the first one
// (eth0, with its published ports) or one `network connect` added: its interface, lease
// and peers' names. False when the container has no such endpoint.
bool disconnect_endpoint(const std::string& runtime_dir, const std::string& network_id);

// The running container's endpoint on the network (its id; "" is kiln0), eth0 or added.
std::optional<BridgeEndpoint> endpoint_on_network(const std::string& container_id, const std::string& network_id);

// The endpoints `network connect` added to a running container, as inspect shows them.
std::vector<BridgeEndpoint> connected_endpoints(const std::string& container_id);

// An endpoint's list file read back (address, gateway, mac, netid lines).
BridgeEndpoint parse_endpoint_list(const std::string& text);

}  // namespace kiln::runtime
