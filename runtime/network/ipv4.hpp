#pragma once
// IPv4 addresses as host-order integers, and the dotted text users and files use.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace kiln::runtime {

// nullopt unless text is four decimal octets ("172.30.0.2").
std::optional<std::uint32_t> parse_ipv4(const std::string& text);
std::string ipv4_text(std::uint32_t address);
// The network byte order the kernel wants.
std::uint32_t ipv4_wire(std::uint32_t address);

struct Subnet {
    std::uint32_t network = 0;
    int prefix_len = 16;
    std::uint32_t mask() const { return prefix_len == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_len); }
    std::uint32_t gateway() const { return network + 1; }  // Docker's: the first address
    std::uint32_t broadcast() const { return network | ~mask(); }
    bool contains(std::uint32_t a) const { return (a & mask()) == network; }
    bool overlaps(const Subnet& o) const {
        int shorter = std::min(prefix_len, o.prefix_len);
        std::uint32_t m = shorter == 0 ? 0 : ~std::uint32_t{0} << (32 - shorter);
        return (network & m) == (o.network & m);
    }
    std::string text() const { return ipv4_text(network) + "/" + std::to_string(prefix_len); }
};

// Docker's MAC for a container address: 02:42 and the four octets.
void mac_for_address(std::uint32_t address, unsigned char (&mac)[6]);
std::string mac_text(const unsigned char (&mac)[6]);
// False unless text is six hex pairs separated by ':'.
bool parse_mac(const std::string& text, unsigned char (&mac)[6]);

}  // namespace kiln::runtime
