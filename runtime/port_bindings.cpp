#include "runtime/port_bindings.hpp"

#include <algorithm>
#include <cctype>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Go's net.JoinHostPort: an IPv6 address gets brackets.
std::string join_host_port(const std::string& host, const std::string& port) {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

// strconv.ParseUint(port, 10, 16) without its error text's detail.
bool is_port_number(const std::string& port) {
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return false;
    return std::stoul(port) <= 65535;
}

}  // namespace

bool natural_less(const std::string& a, const std::string& b) {
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            // Compare the digit runs as numbers: without leading zeros, longer is larger.
            std::size_t ei = i, ej = j;
            while (ei < a.size() && is_digit(a[ei])) ++ei;
            while (ej < b.size() && is_digit(b[ej])) ++ej;
            std::size_t zi = i, zj = j;
            while (zi + 1 < ei && a[zi] == '0') ++zi;
            while (zj + 1 < ej && b[zj] == '0') ++zj;
            const std::string_view na(a.data() + zi, ei - zi), nb(b.data() + zj, ej - zj);
            if (na.size() != nb.size()) return na.size() < nb.size();
            if (na != nb) return na < nb;
            // Equal numbers: fewer leading zeros first, as sortorder does.
            if (ei - i != ej - j) return ei - i < ej - j;
            i = ei;
            j = ej;
            continue;
        }
        if (a[i] != b[j]) return a[i] < b[j];
        ++i;
        ++j;
    }
    return a.size() - i < b.size() - j;
}

std::vector<std::string> port_lines(const PortMap& ports, const std::string& private_port,
                                    const std::string& container_ref) {
    std::vector<std::string> out;
    if (private_port.empty()) {
        for (const auto& [from, bindings] : ports)
            for (const auto& b : bindings) out.push_back(from + " -> " + join_host_port(b.host_ip, b.host_port));
    } else {
        const auto slash = private_port.find('/');
        const std::string port = private_port.substr(0, slash);
        std::string proto = slash == std::string::npos ? "" : private_port.substr(slash + 1);
        if (proto.empty()) proto = "tcp";
        if (!is_port_number(port))
            throw Error("Error: invalid port (" + port + "): strconv.ParseUint: parsing \"" + port + "\": " +
                        (port.empty() || !std::all_of(port.begin(), port.end(), is_digit) ? "invalid syntax"
                                                                                         : "value out of range"));
        auto found = ports.find(port + "/" + proto);
        if (found == ports.end() || found->second.empty())
            throw Error("Error: No public port '" + private_port + "' published for " + container_ref);
        for (const auto& b : found->second) out.push_back(join_host_port(b.host_ip, b.host_port));
    }
    std::sort(out.begin(), out.end(), natural_less);
    return out;
}

std::string ps_ports_text(const PortMap& ports) {
    std::string text;
    for (const auto& [port, bindings] : ports)
        for (const auto& b : bindings)
            text += (text.empty() ? "" : ", ") + (b.host_ip.empty() ? "0.0.0.0" : b.host_ip) + ":" + b.host_port + "->" + port;
    return text;
}

}  // namespace kiln::runtime
