#pragma once
// Linux capabilities: Docker's default set, name lookup, and (in the container process)
// dropping the bounding set and setting the process sets.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "runtime/child_report.hpp"

namespace kiln::runtime {

using CapMask = std::uint64_t;

// Bit mask of the given capability numbers (CAP_CHOWN = 0, ...).
CapMask capability_mask(std::span<const int> caps);

// Docker's default set: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
// SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE (= 0xa80425fb).
CapMask docker_default_capabilities();
// Every capability the running kernel knows (0..last_cap) that this process itself holds
// in its permitted set: docker run --privileged. (kiln may run as a root that lacks some,
// e.g. CAP_SYS_RESOURCE in a container; a child cannot be given more than its parent has.)
CapMask all_capabilities(int last_cap);

// "CAP_NET_ADMIN", "net_admin" or "NET_ADMIN" → 12; nullopt if unknown.
std::optional<int> capability_from_name(std::string_view name);

// The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap).
int last_capability();

// Container side (no allocation). Removes every capability not in `keep` from the
// bounding set, for caps 0..last_cap.
bool drop_bounding_set(CapMask keep, int last_cap, ChildReport& report);
// Sets effective = permitted = `caps`, inheritable empty, and clears the ambient set.
bool set_capabilities(CapMask caps, ChildReport& report);

}  // namespace kiln::runtime
