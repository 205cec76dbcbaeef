#include "runtime/network/published_ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/netlink/release.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/ipv4.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {



bool valid_port(const std::string& text, bool zero_ok) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return false;
    int n = std::stoi(text);
    return n <= 65535 && (n > 0 || zero_ok);
}

// Binds host_ip:port (0: any free one) to show it is free; returns the port bound.
int bind_test(const std::string& host_ip, int port, const std::string& proto) {
    UniqueFd fd(::socket(AF_INET, (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(*parse_ipv4(host_ip));
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw Error("cannot publish " + host_ip + ":" + std::to_string(port) + "/" + proto + ": " +
                    std::strerror(errno));
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
}

}  // namespace

std::pair<std::string, PortBinding> parse_publish(const std::string& flag) {
    auto bad = [&](const std::string& why) { return Error("invalid -p " + flag + ": " + why); };
    std::string spec = flag, proto = "tcp";
    if (auto slash = spec.rfind('/'); slash != std::string::npos) {
        proto = spec.substr(slash + 1);
        spec = spec.substr(0, slash);
        if (proto != "tcp" && proto != "udp") throw bad("the protocol must be tcp or udp");
    }
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t colon; (colon = spec.find(':', start)) != std::string::npos; start = colon + 1)
        parts.push_back(spec.substr(start, colon - start));
    parts.push_back(spec.substr(start));
    if (parts.size() > 3) throw bad("give [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO] (IPv4 only)");
    PortBinding binding;
    if (parts.size() == 3) {
        binding.host_ip = parts[0];
        if (!parse_ipv4(binding.host_ip)) throw bad("\"" + binding.host_ip + "\" is not an IPv4 address");
    }
    if (parts.size() >= 2) {
        binding.host_port = parts[parts.size() - 2];
        if (!binding.host_port.empty() && !valid_port(binding.host_port, true))
            throw bad("the host port must be a number in 0-65535 (ranges are not supported)");
    }
    if (!valid_port(parts.back(), false)) throw bad("the container port must be a number in 1-65535");
    return {std::to_string(std::stoi(parts.back())) + "/" + proto, binding};
}

PortMap choose_host_ports(const PortMap& requested) {
    PortMap chosen;
    for (const auto& [key, bindings] : requested) {
        const std::string proto = key.substr(key.find('/') + 1);
        for (auto b : bindings) {
            if (b.host_ip.empty()) b.host_ip = "0.0.0.0";
            int port = b.host_port.empty() ? 0 : std::stoi(b.host_port);
            b.host_port = std::to_string(bind_test(b.host_ip, port, proto));
            chosen[key].push_back(b);
        }
    }
    return chosen;
}

void add_port_rules(const std::string& runtime_dir, const PortMap& published, std::uint32_t address) {
    std::string add = "*nat\n", undo = "*nat\n", listing;
    for (const auto& [key, bindings] : published) {
        const std::string port = key.substr(0, key.find('/')), proto = key.substr(key.find('/') + 1);
        for (const auto& b : bindings) {
            std::string rule = "KILN-DNAT" + (b.host_ip == "0.0.0.0" ? "" : " -d " + b.host_ip + "/32") + " -p " +
                               proto + " -m " + proto + " --dport " + b.host_port + " -j DNAT --to-destination " +
                               ipv4_text(address) + ":" + port + "\n";
            add += "-A " + rule;
            undo += "-D " + rule;
            listing += key + " " + b.host_ip + " " + b.host_port + "\n";
        }
    }
    add += "COMMIT\n";
    undo += "COMMIT\n";
    const std::string undo_path = runtime_dir + "/" + netlink::port_rules_undo_file;
    atomic_write(undo_path, undo, 0644, Durability::not_needed);
    atomic_write(runtime_dir + "/" + published_ports_file, listing, 0644, Durability::not_needed);
    {
        std::ofstream list(runtime_dir + "/" + netlink::attachment_file, std::ios::app);
        list << "undo " << undo_path << "\n";
        if (!list.flush()) throw Error("cannot record the port rules in " + runtime_dir);
    }
    const std::string add_path = runtime_dir + "/ports.rules";
    atomic_write(add_path, add, 0644, Durability::not_needed);
    int status = netlink::iptables_restore(add_path);
    ::unlink(add_path.c_str());
    if (status != 0)
        throw Error("cannot add the rules of the published ports (iptables-restore exit " + std::to_string(status) + ")");
}

PortMap published_ports(const std::string& container_id) {
    PortMap ports;
    if (!runtime_dir_locked(container_id)) return ports;
    std::ifstream in(runtime_dirs_parent() + "/" + container_id + "/" + published_ports_file);
    std::string key, ip, port;
    while (in >> key >> ip >> port) ports[key].push_back({ip, port});
    return ports;
}

}  // namespace kiln::runtime
