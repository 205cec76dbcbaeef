#pragma once
// The address space of user-defined networks (`kiln network create`): CIDR text, the host
// routes already in use, and Docker's default pools from which a network gets its subnet
// when --subnet is not given.
#include <optional>
#include <string>
#include <vector>

#include "runtime/network/ipv4.hpp"

namespace kiln::runtime {

// "10.5.0.0/24" -> the subnet. Throws kiln::Error in one line for anything else, for host
// bits set after the prefix, and for prefixes that leave no room for a gateway and one
// container (longer than /30).
Subnet parse_cidr(const std::string& text);

// The destinations of "/proc/net/route" text (without default routes), skipping the
// routes of the interface `skip_iface`.
std::vector<Subnet> route_subnets(const std::string& routes, const std::string& skip_iface = "");

// The first of Docker's default pools (172.18.0.0/16 .. 172.29.0.0/16, then
// 192.168.0.0/20 .. 192.168.240.0/20; kiln0 takes 172.30/16, 172.31/16, 10.88/16 or
// 10.89/16) that overlaps none of taken. Throws kiln::Error, in Docker's words, when none is left.
Subnet choose_network_subnet(const std::vector<Subnet>& taken);

// Whether subnet overlaps one of taken.
bool overlaps_any(const Subnet& subnet, const std::vector<Subnet>& taken);

// Docker's rule for network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*. Throws kiln::Error otherwise.
void validate_network_name(const std::string& name);

// A --network-alias: a host name (letters, digits, '-', '.', '_', at most 253 characters).
// Throws kiln::Error otherwise.
void validate_host_alias(const std::string& alias);

}  // namespace kiln::runtime
