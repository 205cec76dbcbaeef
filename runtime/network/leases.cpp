#include "runtime/network/leases.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "runtime/netlink/release.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/network_store.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// Address -> owner of every lease file.
std::map<std::uint32_t, std::string> read_leases(const std::string& dir) {
    std::map<std::uint32_t, std::string> leases;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        auto address = parse_ipv4(entry.path().filename());
        if (!address) continue;
        try {
            leases[*address] = read_file(entry.path());
        } catch (const Error&) {
            // Released meanwhile by a monitor (it needs no lock to drop its own).
        }
    }
    return leases;
}

bool live(const std::string& owner) { return !owner.empty() && runtime_dir_locked(owner); }

}  // namespace

const std::string& leases_dir() {
    static const std::string dir = [] {
        std::string d = network_state_dir() + "/leases";
        mkdir_p(d);
        return d;
    }();
    return dir;
}

std::string network_leases_dir(const std::string& network_id) {
    std::string d = network_host_dir(network_id) + "/leases";
    mkdir_p(d);
    return d;
}

LeaseLock::LeaseLock(const std::string& dir) {
    const std::string path = dir + "/" + netlink::lease_lock_file;
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw_errno("open " + path);
    while (::flock(fd_.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("lock " + path);
}

std::string lease_path(std::uint32_t address, const std::string& dir) { return dir + "/" + ipv4_text(address); }

std::uint32_t lease_address(const Subnet& subnet, const std::string& container_id,
                            std::optional<std::uint32_t> requested, const std::string& dir,
                            const std::string& network_name, std::uint32_t gateway) {
    if (gateway == 0) gateway = subnet.gateway();
    auto leases = read_leases(dir);
    auto is_free = [&](std::uint32_t a) {
        auto it = leases.find(a);
        return it == leases.end() || !live(it->second);
    };
    std::uint32_t chosen = 0;
    if (requested) {
        if (!subnet.contains(*requested) || *requested == subnet.network || *requested == gateway ||
            *requested == subnet.broadcast())
            throw Error("invalid --ip " + ipv4_text(*requested) + ": it is not a container address in " +
                        network_name + "'s subnet " + subnet.text());
        if (!is_free(*requested)) throw Error("address " + ipv4_text(*requested) + " is already in use");
        chosen = *requested;
    } else {
        for (std::uint32_t a = subnet.network + 1; a < subnet.broadcast() && !chosen; ++a)
            if (a != gateway && is_free(a)) chosen = a;
        if (!chosen) throw Error("no free address left in " + network_name + "'s subnet " + subnet.text());
    }
    atomic_write(lease_path(chosen, dir), container_id, 0644, Durability::not_needed);
    return chosen;
}

void reconcile_leases() {
    std::vector<std::string> dirs = {leases_dir()};
    const std::string nets = network_state_dir() + "/nets";
    if (path_exists(nets))
        for (const auto& entry : std::filesystem::directory_iterator(nets))
            if (path_exists(entry.path().string() + "/leases")) dirs.push_back(entry.path().string() + "/leases");
    for (const auto& dir : dirs) {
        LeaseLock lock(dir);
        for (const auto& [address, owner] : read_leases(dir))
            if (!live(owner)) ::unlink(lease_path(address, dir).c_str());
    }
}

}  // namespace kiln::runtime
