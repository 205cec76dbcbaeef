#pragma once
// Linux capabilities: Docker's default set, name lookup, and (in the container process)
// dropping the bounding set and setting the process sets.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// A --cap-add/--cap-drop value as Docker records it: "CAP_NET_ADMIN" for "net_admin",
// "NET_ADMIN" or "cap_net_admin"; "ALL" for "all". Throws kiln::Error naming `flag` for a
// capability this kiln does not know.
std::string normalize_capability(std::string_view name, std::string_view flag);

// Docker's TweakCapabilities over `base` with normalized names: ALL in `add` gives every
// capability but the dropped ones; ALL in `drop` gives only the added ones; otherwise base
// minus drop plus add. The result is limited to `available` (what kiln itself holds: a
// child cannot be given more).
CapMask tweak_capabilities(CapMask base, const std::vector<std::string>& add, const std::vector<std::string>& drop,
                           CapMask available);

// The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap).
int last_capability();

// Container side (no allocation). Removes every capability not in `keep` from the
// bounding set, for caps 0..last_cap.
bool drop_bounding_set(CapMask keep, int last_cap, ChildReport& report);
// Sets effective = permitted = `caps`, inheritable empty, and clears the ambient set.
bool set_capabilities(CapMask caps, ChildReport& report);

}  // namespace kiln::runtime
