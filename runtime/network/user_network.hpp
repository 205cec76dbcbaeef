#pragma once
// The host side of a user-defined network: its Linux bridge "br-<first 12 hex of its id>"
// (Docker's name), made when its first container starts, and its iptables rules, added
// with that bridge in one iptables-restore call. Every rule of a network sits in the
// KILN-ISOLATION chain (jumped to first from FORWARD) or nat POSTROUTING, and names its
// bridge, so the rules of one network decide every packet that enters or leaves it:
// traffic among its members is accepted; traffic between it and kiln0 or any other br-
// bridge is dropped; an --internal network drops everything else too and has no
// MASQUERADE, while another's traffic to the outside is accepted and NATed.
#include <string>

#include "runtime/netlink/netlink.hpp"
#include "runtime/network/network_store.hpp"

namespace kiln::runtime {

inline constexpr const char* isolation_chain = "KILN-ISOLATION";

// Whether the filter table has the isolation chain (made by the first network's rules).
bool isolation_chain_exists();

std::string network_bridge_name(const NetworkDefinition& network);

// The iptables-restore input that adds (or, with "-D", deletes) the network's rules.
std::string network_rules(const NetworkDefinition& network, const std::string& verb);

// The network's bridge, made with its rules if missing. The caller holds the network's
// lease lock (leases.hpp), so concurrent starts make it once.
void ensure_network_bridge(netlink::Socket& host, const NetworkDefinition& network);

// Deletes the network's bridge and its rules (nothing when it was never made).
void remove_network_bridge(const NetworkDefinition& network);

}  // namespace kiln::runtime
