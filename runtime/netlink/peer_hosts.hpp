#pragma once
// Name resolution on a user-defined network without a daemon: each member has a file in
// the network's members directory (its runtime dir, then its /etc/hosts line: address,
// name, aliases, short id), and each member's /etc/hosts (bind mounted from its runtime
// dir) is its own hosts.base followed by the lines of the other members of every network
// it is on (its runtime dir's peer-networks file lists their members directories).
// Whenever a container joins or leaves a network, every member's file is rewritten in
// place (same inode, since it is bind mounted: written over from the start, then cut to
// length) under the network directory's flock, and each file under its container's
// hosts.lock (never the bind mounted file itself, which the container could hold locked),
// so members started later are resolvable too. libc only: kiln-monitor runs the leave of
// a detached container.
#include <string>

namespace kiln::netlink {

// The container's own part of its /etc/hosts, beside the bind mounted "hosts".
inline constexpr const char* hosts_base_file = "hosts.base";
// The members directories of the networks the container is on, one per line.
inline constexpr const char* peer_networks_file = "peer-networks";
inline constexpr const char* hosts_lock_file = "hosts.lock";

// Records container_id (whose runtime dir holds hosts.base and hosts) as a member with
// hosts_line, then rewrites every member's hosts. Returns false when a file could not be
// written.
bool join_peer_hosts(const std::string& members_dir, const std::string& container_id, const std::string& runtime_dir,
                     const std::string& hosts_line);

// Drops container_id from the members and rewrites its hosts and the others'. Never throws.
void leave_peer_hosts(const std::string& members_dir, const std::string& container_id);

// The text of a member's hosts: its base, then every other member's line, once each
// (pure, for tests).
std::string peer_hosts_text(const std::string& base, const std::string& self_id,
                            const std::string& members /* "ID\tLINE\n" per member, of every network */);

}  // namespace kiln::netlink
