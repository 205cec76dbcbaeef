#include "runtime/network/network_setup.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/netlink/peer_hosts.hpp"
#include "runtime/network/endpoint.hpp"
#include "runtime/network/network_files.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

UniqueFd join_container_netns(const std::string& id, pid_t pid) {
    const std::string what = "container " + id.substr(0, 12);
    if (pid <= 0 || !runtime_dir_locked(id)) throw Error("cannot join the network of " + what + ": it is not running");
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) throw_errno("cannot join the network of " + what);
    UniqueFd netns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) throw_errno("cannot join the network of " + what);
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) != 0 || !runtime_dir_locked(id))
        throw Error("cannot join the network of " + what + ": it stopped");
    return netns;
}

namespace {

// The name, aliases and short id that peers on a user-defined network resolve.
std::string peer_names(const ContainerNetwork& net, const std::string& id, const std::vector<std::string>& aliases) {
    std::string names = net.container_name;
    for (const auto& alias : aliases) names += " " + alias;
    return names + " " + id.substr(0, 12);
}

// The endpoints of the networks the container was connected to while it was stopped.
void connect_recorded(const ContainerNetwork& net, const std::string& id, const std::string& runtime_dir,
                      NetworkSetup& setup) {
    if (!setup.bridge) return;
    for (const auto& extra : net.connected)
        connect_endpoint({id, runtime_dir, setup.bridge->netns_fd(), extra.network, extra.address,
                          peer_names(net, id, extra.aliases)});
}

}  // namespace

std::vector<BindMount> prepare_network(const ContainerSpec& spec, const std::string& id, const std::string& runtime_dir,
                                       const std::string& state_dir, const std::string& hostname, NetworkSetup& setup) {
    const ContainerNetwork& net = spec.network;
    NetworkFiles files{hostname, "", spec.host_network || net.mode == ContainerNetwork::Mode::host, net.dns,
                       net.dns_search, net.dns_options, net.extra_hosts};
    if (net.mode == ContainerNetwork::Mode::container && !spec.host_network) {
        setup.joined = join_container_netns(net.join_id, net.join_pid);
        if (!spec.network_files) return {};
        // Docker shares the joined container's files, its hostname included.
        const std::string other = runtime_dirs_parent() + "/" + net.join_id;
        return {{other + "/hostname", "/etc/hostname", false},
                {other + "/hosts", "/etc/hosts", false},
                {other + "/resolv.conf", "/etc/resolv.conf", false}};
    }
    std::string gateway;
    const bool user = net.mode == ContainerNetwork::Mode::user;
    if ((net.mode == ContainerNetwork::Mode::bridge || user) && !spec.host_network) {
        setup.bridge.emplace(BridgeRequest{id, runtime_dir, net.address, net.mac, net.ports,
                                           user ? net.user_network : std::nullopt});
        files.address = ipv4_text(setup.bridge->address());
        gateway = ipv4_text(setup.bridge->gateway());
    }
    if (!spec.network_files) {
        connect_recorded(net, id, runtime_dir, setup);
        return {};
    }
    for (auto& [host, ip] : files.extra_hosts) {
        if (ip != "host-gateway") continue;
        if (gateway.empty()) throw Error("--add-host " + host + ":host-gateway needs the bridge network");
        ip = gateway;
    }
    std::string host_resolv;
    try {
        host_resolv = read_file("/etc/resolv.conf");
    } catch (const Error&) {
        // No resolver configured on the host: Docker's fallback applies.
    }
    atomic_write(state_dir + "/hostname", hostname + "\n", 0644, Durability::not_needed);
    atomic_write(state_dir + "/hosts", hosts_file(files), 0644, Durability::not_needed);
    if (setup.bridge) {
        // What `network connect` to a user-defined network adds peers' names to, later.
        atomic_write(state_dir + "/" + netlink::hosts_base_file, hosts_file(files), 0644, Durability::not_needed);
        if (user) setup.bridge->join_peers(id, peer_names(net, id, net.aliases));
        connect_recorded(net, id, runtime_dir, setup);
    }
    atomic_write(state_dir + "/resolv.conf", resolv_conf(files, host_resolv), 0644, Durability::not_needed);
    return {{state_dir + "/hostname", "/etc/hostname", false},
            {state_dir + "/hosts", "/etc/hosts", false},
            {state_dir + "/resolv.conf", "/etc/resolv.conf", false}};
}

}  // namespace kiln::runtime
