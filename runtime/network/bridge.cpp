#include "runtime/network/bridge.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <system_error>

#include "runtime/netlink/release.hpp"
#include "runtime/network/network_store.hpp"
#include "runtime/network/subnet_pool.hpp"
#include "runtime/network/user_network.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

std::string subnet_file() { return network_state_dir() + "/subnet"; }

// In place: /proc refuses atomic_write's rename.
void write_sysctl(const std::string& path, const std::string& value) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        throw_errno("write " + path);
}

// NAT out of the subnet, forwarding to and from the bridge, and the chain the port
// rules of containers go into (reached for the host's own addresses, 127.0.0.1 too).
void install_base_rules(const Subnet& subnet) {
    const std::string sub = subnet.text();
    std::string rules = std::string("*nat\n:KILN-DNAT - [0:0]\n") +
                        "-A PREROUTING -m addrtype --dst-type LOCAL -j KILN-DNAT\n"
                        "-A OUTPUT -m addrtype --dst-type LOCAL -j KILN-DNAT\n"
                        "-A POSTROUTING -s " + sub + " ! -o " + bridge_name + " -j MASQUERADE\n"
                        "-A POSTROUTING -s 127.0.0.0/8 -o " + bridge_name + " -j MASQUERADE\n"
                        "COMMIT\n*filter\n"
                        "-I FORWARD 1 -i " + bridge_name + " -j ACCEPT\n"
                        "-I FORWARD 1 -o " + bridge_name + " -j ACCEPT\n";
    // The isolation of user-defined networks from kiln0 must still come first.
    if (isolation_chain_exists())
        rules += std::string("-D FORWARD -j ") + isolation_chain + "\n-I FORWARD 1 -j " + isolation_chain + "\n";
    rules += "COMMIT\n";
    const std::string file = network_state_dir() + "/base.rules";
    atomic_write(file, rules);
    int status = netlink::iptables_restore(file);
    ::unlink(file.c_str());
    if (status != 0)
        throw Error("cannot install the NAT rules of " + std::string(bridge_name) +
                    " (iptables-restore exit " + std::to_string(status) + "): is iptables installed?");
}

}  // namespace

const std::string& network_state_dir() {
    static const std::string dir = [] {
        const std::string& containers = runtime_dirs_parent();
        std::string d = containers.substr(0, containers.rfind('/')) + "/network";
        mkdir_p(d);
        return d;
    }();
    return dir;
}

Subnet choose_bridge_subnet(const std::string& routes, const std::vector<Subnet>& reserved) {
    std::vector<Subnet> taken = route_subnets(routes, bridge_name);
    taken.insert(taken.end(), reserved.begin(), reserved.end());
    for (const char* candidate : {"172.30.0.0", "172.31.0.0", "10.88.0.0", "10.89.0.0"}) {
        Subnet s{*parse_ipv4(candidate), 16};
        if (!overlaps_any(s, taken)) return s;
    }
    throw Error("every subnet kiln0 could use (172.30/16, 172.31/16, 10.88/16, 10.89/16) overlaps a host route");
}

std::optional<Subnet> existing_bridge_subnet() {
    try {
        netlink::Socket host;
        if (host.link_index(bridge_name) == 0) return std::nullopt;
        std::string text = read_file(subnet_file());
        auto slash = text.find('/');
        auto network = parse_ipv4(text.substr(0, slash));
        if (!network || slash == std::string::npos) return std::nullopt;
        return Subnet{*network, std::stoi(text.substr(slash + 1))};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

Subnet ensure_bridge(netlink::Socket& host) {
    if (auto existing = existing_bridge_subnet()) return *existing;
    try {
        if (host.link_index(bridge_name) != 0)
            throw Error(std::string("a link named ") + bridge_name + " exists that kiln did not make (no " +
                        subnet_file() + "): delete it or give --network none");
        Subnet subnet = choose_bridge_subnet(read_file("/proc/net/route"), reserved_network_subnets());
        host.create_bridge(bridge_name);
        int index = host.link_index(bridge_name);
        host.add_address(index, ipv4_wire(subnet.gateway()), subnet.prefix_len);
        host.set_up(index);
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        // Lets the DNAT of 127.0.0.1:PORT reach the bridge (Docker does this without its proxy).
        write_sysctl(std::string("/proc/sys/net/ipv4/conf/") + bridge_name + "/route_localnet", "1");
        install_base_rules(subnet);
        atomic_write(subnet_file(), subnet.text());
        return subnet;
    } catch (const std::system_error& e) {
        throw Error(std::string("cannot create the bridge ") + bridge_name + ": " + e.what());
    }
}

}  // namespace kiln::runtime
