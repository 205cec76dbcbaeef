#include "runtime/network/user_network.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "runtime/netlink/release.hpp"
#include "runtime/network/bridge.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace kiln::runtime {

namespace {

std::string undo_path(const NetworkDefinition& n) { return network_host_dir(n.id) + "/rules.undo"; }

}  // namespace

bool isolation_chain_exists() {
    const char* argv[] = {"iptables", "-w", "-n", "-L", isolation_chain, nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int err = ::posix_spawnp(&pid, argv[0], &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) throw Error("cannot run iptables: " + std::string(std::strerror(err)) + ": is iptables installed?");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

namespace {

void restore(const std::string& rules, const std::string& file, const std::string& what) {
    atomic_write(file, rules, 0600, Durability::not_needed);
    int status = netlink::iptables_restore(file);
    ::unlink(file.c_str());
    if (status != 0) throw Error("cannot " + what + " (iptables-restore exit " + std::to_string(status) + ")");
}

void write_sysctl(const std::string& path, const std::string& value) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        throw_errno("write " + path);
}

}  // namespace

std::string network_bridge_name(const NetworkDefinition& network) { return "br-" + network.id.substr(0, 12); }

std::string network_rules(const NetworkDefinition& n, const std::string& verb) {
    const std::string br = network_bridge_name(n), sub = n.subnet.text(), chain = std::string(" ") + isolation_chain;
    // Inserted at the top in this order, they read from the top as listed in the header.
    std::vector<std::string> rules = {"-i " + br + " -o " + br + " -j ACCEPT",
                                      "-i " + br + " -o br+ -j DROP",
                                      "-i br+ -o " + br + " -j DROP",
                                      "-i " + br + " -o " + bridge_name + " -j DROP",
                                      "-i " + std::string(bridge_name) + " -o " + br + " -j DROP",
                                      "-i " + br + " -j " + (n.internal ? "DROP" : "ACCEPT"),
                                      "-o " + br + " -j " + (n.internal ? "DROP" : "ACCEPT")};
    std::string text;
    if (!n.internal)
        text += "*nat\n" + verb + " POSTROUTING -s " + sub + " ! -o " + br + " -j MASQUERADE\nCOMMIT\n";
    text += "*filter\n";
    if (verb == "-I") {
        for (auto it = rules.rbegin(); it != rules.rend(); ++it) text += "-I" + chain + " 1 " + *it + "\n";
    } else {
        for (const auto& r : rules) text += verb + chain + " " + r + "\n";
    }
    return text + "COMMIT\n";
}

void ensure_network_bridge(netlink::Socket& host, const NetworkDefinition& n) {
    const std::string br = network_bridge_name(n);
    if (host.link_index(br) != 0 && path_exists(undo_path(n))) return;
    try {
        if (host.link_index(br) == 0) {
            host.create_bridge(br);
            int index = host.link_index(br);
            host.add_address(index, ipv4_wire(n.gateway), n.subnet.prefix_len);
            host.set_up(index);
        }
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        std::string add = network_rules(n, "-I");
        if (!isolation_chain_exists()) {
            // The chain is made once and jumped to before any rule of kiln0's or the host's.
            add.insert(add.find("*filter\n") + 8, std::string(":") + isolation_chain + " - [0:0]\n-I FORWARD 1 -j " +
                                                      isolation_chain + "\n");
        }
        // Recorded before they are added: a crash leaves them listed for `network rm`.
        atomic_write(undo_path(n), network_rules(n, "-D"), 0600, Durability::not_needed);
        restore(add, network_host_dir(n.id) + "/rules.add", "add the rules of network " + n.name);
    } catch (const std::system_error& e) {
        throw Error("cannot create the bridge " + br + " of network " + n.name + ": " + e.what());
    }
}

void remove_network_bridge(const NetworkDefinition& n) {
    if (path_exists(undo_path(n))) {
        netlink::iptables_restore(undo_path(n));
        ::unlink(undo_path(n).c_str());
    }
    try {
        netlink::Socket().delete_link(network_bridge_name(n));
    } catch (const std::system_error& e) {
        throw Error("cannot delete the bridge " + network_bridge_name(n) + ": " + e.what());
    }
}

}  // namespace kiln::runtime
