#pragma once
// `docker port`'s view of a container's published ports (HostConfig.PortBindings while it
// runs, as NetworkSettings.Ports): the lines it prints and the errors it gives.
#include <string>
#include <vector>

#include "runtime/host_settings.hpp"

namespace kiln::runtime {

// private_port empty: every binding as "80/tcp -> 0.0.0.0:8080"; else "PORT[/PROTO]" (tcp
// by default) and that port's host addresses ("0.0.0.0:8080", "[::]:8080"). Sorted in
// the docker CLI's natural order. Throws kiln::Error in the CLI's words for a port that
// is not a number in 0..65535 or one that is not published; container_ref names the
// container in that message as the user did.
std::vector<std::string> port_lines(const PortMap& ports, const std::string& private_port,
                                    const std::string& container_ref);

// `docker ps`'s PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:9000->90/udp".
std::string ps_ports_text(const PortMap& ports);

// The docker CLI's sortorder.NaturalLess: digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b);

}  // namespace kiln::runtime
