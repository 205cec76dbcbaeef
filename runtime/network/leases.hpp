#pragma once
// Bridge addresses: one lease file per address in use under network_state_dir()/leases,
// named by the address and holding the container's id, made and removed under a flock
// on the lock file there, so concurrent starts never get the same address. A lease is
// live while its container's runtime dir is locked (runtime_dir.hpp): the address of a
// container whose kiln or monitor died is free again without anyone cleaning up, and
// reconcile_leases() removes such files.
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/network/ipv4.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

const std::string& leases_dir();

// The leases of user-defined network `network_id` (a directory of the same layout).
std::string network_leases_dir(const std::string& network_id);

// Holds the lease lock of a leases directory (kiln0's by default) for its lifetime.
class LeaseLock {
public:
    explicit LeaseLock(const std::string& dir = leases_dir());
private:
    UniqueFd fd_;
};

// The address for container_id (requested, or the lowest free one), its lease written.
// The caller holds the LeaseLock. Throws kiln::Error for a requested address outside
// the subnet or in use, or a full subnet.
// dir, network_name and gateway (0: the subnet's first address): a user-defined network's leases and name (kiln0's by default).
std::uint32_t lease_address(const Subnet& subnet, const std::string& container_id,
                            std::optional<std::uint32_t> requested, const std::string& dir = leases_dir(),
                            const std::string& network_name = "kiln0", std::uint32_t gateway = 0);

std::string lease_path(std::uint32_t address, const std::string& dir = leases_dir());

// Removes the lease files of containers that no longer run (kiln0's and every network's).
void reconcile_leases();

}  // namespace kiln::runtime
