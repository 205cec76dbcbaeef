#pragma once
// kiln's default bridge network, "kiln0" (Docker's docker0): made on the first `run`
// that needs it, with a private subnet that overlaps none of the host's routes, outbound
// NAT and forwarding. Like docker0 it then stays, with its rules, for the next
// containers: only what belongs to one container (its veth, lease and port rules) goes
// when that container stops.
#include <string>
#include <vector>

#include "runtime/netlink/netlink.hpp"
#include "runtime/network/ipv4.hpp"

namespace kiln::runtime {

inline constexpr const char* bridge_name = "kiln0";

// kiln's host-wide network state: the bridge's subnet and the address leases
// ("/run/kiln/network", beside the runtime dirs: the bridge serves every store).
const std::string& network_state_dir();

// The bridge's subnet, making the bridge first if it is missing. The caller holds the
// lease lock (leases.hpp), so concurrent runs make it once.
Subnet ensure_bridge(netlink::Socket& host);

// The subnet of the existing bridge; nullopt when there is none yet.
std::optional<Subnet> existing_bridge_subnet();

// The subnet kiln0 would get: the first of kiln's candidates that none of `routes`
// overlaps ("/proc/net/route" text), nor one of reserved (user-defined networks').
// Throws kiln::Error when every candidate is taken.
Subnet choose_bridge_subnet(const std::string& routes, const std::vector<Subnet>& reserved = {});

}  // namespace kiln::runtime
