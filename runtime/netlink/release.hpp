#pragma once
// What a container's bridge attachment leaves on the host, as listed in its runtime
// dir's "network" file (written by runtime/network/attachment.cpp before any of it is
// made): the host end of its veth, its address lease and the iptables rules of its
// published ports. Released by whoever outlives the container: kiln after a foreground
// run, kiln-monitor after a detached one, the stale-runtime-dir sweep after a killed
// monitor. libc only, for kiln-monitor.
#include <string>
#include <vector>

namespace kiln::netlink {

// The file in a runtime dir that lists the attachment; "network.<key>" files beside it list
// the endpoints `kiln network connect` added, each on a network of its own.
inline constexpr const char* attachment_file = "network";
// The iptables-restore input that deletes the container's port rules (beside it).
inline constexpr const char* port_rules_undo_file = "ports.undo";

// The lock file beside the leases (one file per address, holding its container's id)
// that allocation and release take.
inline constexpr const char* lease_lock_file = ".lock";

// The runtime dir's endpoint lists: the first endpoint's "network", then the added ones'.
std::vector<std::string> endpoint_lists(const std::string& runtime_dir);

// Releases everything one endpoint's list names, then removes the list.
void release_endpoint(const std::string& list, bool delete_veth);

// Releases everything the runtime dir's attachment files list, then removes them.
// Idempotent, never throws: what cannot be removed now is reported by later sweeps.
// delete_veth false leaves the veth to the kernel, which removes the pair with the
// container's namespace, after the caller has gone on: deleting it here waits for the
// kernel's network synchronisation (~10-100 ms), which a foreground `run` should not pay.
void release_attachment(const std::string& runtime_dir, bool delete_veth = true);

// Runs `iptables-restore --noflush` (-w: wait for the xtables lock) on the file; its exit
// status (-1 when it could not run).
int iptables_restore(const std::string& rules_file);

}  // namespace kiln::netlink
