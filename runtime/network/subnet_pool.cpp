#include "runtime/network/subnet_pool.hpp"

#include <arpa/inet.h>

#include <sstream>

#include "util/error.hpp"

namespace kiln::runtime {

Subnet parse_cidr(const std::string& text) {
    auto bad = [&](const std::string& why) { return Error("invalid subnet " + text + ": " + why); };
    auto slash = text.find('/');
    if (slash == std::string::npos) throw bad("give an IPv4 CIDR such as 10.5.0.0/24");
    auto network = parse_ipv4(text.substr(0, slash));
    const std::string prefix = text.substr(slash + 1);
    if (!network || prefix.empty() || prefix.size() > 2 || prefix.find_first_not_of("0123456789") != std::string::npos)
        throw bad("give an IPv4 CIDR such as 10.5.0.0/24");
    Subnet s{*network, std::stoi(prefix)};
    if (s.prefix_len > 30) throw bad("the prefix must be /30 or shorter, to hold a gateway and a container");
    if (s.prefix_len < 8) throw bad("the prefix must be /8 or longer");
    if ((s.network & s.mask()) != s.network)
        throw bad("it has host bits set; its network is " + Subnet{s.network & s.mask(), s.prefix_len}.text());
    return s;
}

std::vector<Subnet> route_subnets(const std::string& routes, const std::string& skip_iface) {
    std::vector<Subnet> taken;
    std::istringstream lines(routes);
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
        std::istringstream f(line);
        std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
        if (!(f >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
        if (!skip_iface.empty() && iface == skip_iface) continue;
        std::uint32_t d = 0, m = 0;
        try {
            // The kernel prints the addresses in network byte order as host-order hex.
            d = ntohl(static_cast<std::uint32_t>(std::stoul(dest, nullptr, 16)));
            m = ntohl(static_cast<std::uint32_t>(std::stoul(mask, nullptr, 16)));
        } catch (const std::exception&) {
            continue;
        }
        if (m == 0) continue;  // the default route overlaps everything and nothing
        taken.push_back({d & m, __builtin_popcount(m)});
    }
    return taken;
}

bool overlaps_any(const Subnet& subnet, const std::vector<Subnet>& taken) {
    for (const auto& t : taken)
        if (subnet.overlaps(t)) return true;
    return false;
}

Subnet choose_network_subnet(const std::vector<Subnet>& taken) {
    std::vector<Subnet> pool;
    for (std::uint32_t second = 18; second <= 29; ++second) pool.push_back({(172u << 24) | (second << 16), 16});
    for (std::uint32_t third = 0; third < 256; third += 16) pool.push_back({(192u << 24) | (168u << 16) | (third << 8), 20});
    for (const auto& candidate : pool)
        if (!overlaps_any(candidate, taken)) return candidate;
    throw Error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
}

void validate_network_name(const std::string& name) {
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    bool ok = !name.empty() && alnum(name[0]);
    for (std::size_t i = 1; ok && i < name.size(); ++i) ok = alnum(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-';
    if (!ok || name.size() > 128)
        throw Error("invalid network name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
}

void validate_host_alias(const std::string& alias) {
    bool ok = !alias.empty() && alias.size() <= 253 && alias[0] != '-' && alias[0] != '.';
    for (char c : alias)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_');
    if (!ok) throw Error("invalid network alias \"" + alias + "\": give a host name");
}

}  // namespace kiln::runtime
