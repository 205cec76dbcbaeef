#include "runtime/network/leases.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "runtime/netlink/release.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// Address -> owner of every lease file.
std::map<std::uint32_t, std::string> read_leases() {
    std::map<std::uint32_t, std::string> leases;
    for (const auto& entry : std::filesystem::directory_iterator(leases_dir())) {
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

LeaseLock::LeaseLock() {
    const std::string path = leases_dir() + "/" + netlink::lease_lock_file;
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw_errno("open " + path);
    while (::flock(fd_.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("lock " + path);
}

std::string lease_path(std::uint32_t address) { return leases_dir() + "/" + ipv4_text(address); }

std::uint32_t lease_address(const Subnet& subnet, const std::string& container_id,
                            std::optional<std::uint32_t> requested) {
    auto leases = read_leases();
    auto is_free = [&](std::uint32_t a) {
        auto it = leases.find(a);
        return it == leases.end() || !live(it->second);
    };
    std::uint32_t chosen = 0;
    if (requested) {
        if (!subnet.contains(*requested) || *requested == subnet.network || *requested == subnet.gateway() ||
            *requested == subnet.broadcast())
            throw Error("invalid --ip " + ipv4_text(*requested) + ": it is not a container address in " +
                        std::string(bridge_name) + "'s subnet " + subnet.text());
        if (!is_free(*requested)) throw Error("address " + ipv4_text(*requested) + " is already in use");
        chosen = *requested;
    } else {
        for (std::uint32_t a = subnet.gateway() + 1; a < subnet.broadcast() && !chosen; ++a)
            if (is_free(a)) chosen = a;
        if (!chosen) throw Error("no free address left in " + std::string(bridge_name) + "'s subnet " + subnet.text());
    }
    atomic_write(lease_path(chosen), container_id);
    return chosen;
}

void reconcile_leases() {
    LeaseLock lock;
    for (const auto& [address, owner] : read_leases())
        if (!live(owner)) ::unlink(lease_path(address).c_str());
}

}  // namespace kiln::runtime
