#include "runtime/network/ipv4.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace kiln::runtime {

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
    std::uint32_t value = 0;
    std::size_t at = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (at >= text.size() || text[at] != '.') return std::nullopt;
            ++at;
        }
        std::size_t start = at;
        unsigned part = 0;
        while (at < text.size() && at - start < 3 && text[at] >= '0' && text[at] <= '9')
            part = part * 10 + static_cast<unsigned>(text[at++] - '0');
        if (at == start || part > 255) return std::nullopt;
        value = value << 8 | part;
    }
    if (at != text.size()) return std::nullopt;
    return value;
}

std::string ipv4_text(std::uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." + std::to_string(a >> 8 & 255) + "." +
           std::to_string(a & 255);
}

std::uint32_t ipv4_wire(std::uint32_t address) { return htonl(address); }

void mac_for_address(std::uint32_t address, unsigned char (&mac)[6]) {
    mac[0] = 0x02;
    mac[1] = 0x42;
    for (int i = 0; i < 4; ++i) mac[2 + i] = static_cast<unsigned char>(address >> (24 - 8 * i));
}

std::string mac_text(const unsigned char (&mac)[6]) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return text;
}

bool parse_mac(const std::string& text, unsigned char (&mac)[6]) {
    if (text.size() != 17) return false;
    for (int i = 0; i < 6; ++i) {
        if (i > 0 && text[3 * i - 1] != ':') return false;
        unsigned value = 0;
        for (int k = 0; k < 2; ++k) {
            char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[3 * i + k])));
            if (c >= '0' && c <= '9') value = value * 16 + static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') value = value * 16 + static_cast<unsigned>(c - 'a' + 10);
            else return false;
        }
        mac[i] = static_cast<unsigned char>(value);
    }
    return true;
}

}  // namespace kiln::runtime
