#pragma once
// -p/-P on the default bridge: DNAT rules in kiln0's KILN-DNAT chain (reached from nat
// PREROUTING and OUTPUT for the host's own addresses; route_localnet on kiln0 and a
// MASQUERADE of 127.0.0.0/8 make 127.0.0.1 work too), one iptables-restore call to add a
// container's rules and one to delete them. No userland proxy: a host port is checked
// free by binding it before the container starts, not held.
#include <cstdint>
#include <string>
#include <utility>

#include "runtime/host_settings.hpp"

namespace kiln::runtime {

// "[IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]" -> ("80/tcp", binding). Throws kiln::Error
// in one line for anything else (ranges are not supported).
std::pair<std::string, PortBinding> parse_publish(const std::string& flag);

// The bindings with every host port checked free (bound and let go) and "" or "0" given
// a free port; host_ip "" becomes "0.0.0.0", as Docker shows it. Throws kiln::Error for a
// port in use.
PortMap choose_host_ports(const PortMap& requested);

// The runtime dir's file of the ports the container publishes, with the host ports chosen.
inline constexpr const char* published_ports_file = "ports";

// Adds the DNAT rules of published (for the container at address) and records, in the
// runtime dir, how to delete them and what was published.
void add_port_rules(const std::string& runtime_dir, const PortMap& published, std::uint32_t address);

}  // namespace kiln::runtime
