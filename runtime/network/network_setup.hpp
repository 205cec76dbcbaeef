#pragma once
// The network side of starting a container, done by the parent before clone: the bridge
// attachment or the namespace of the container to join, and the network files.
#include <optional>
#include <string>
#include <vector>

#include "runtime/container.hpp"
#include "runtime/network/attachment.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

// Lives as long as the container's start state: releases the attachment on destruction.
struct NetworkSetup {
    std::optional<BridgeAttachment> bridge;
    UniqueFd joined;  // --network container:X
    // The namespace the container process must setns() into; -1: its own new one, or the host's.
    int netns_fd() const { return bridge ? bridge->netns_fd() : joined ? joined.get() : -1; }
};

// The network namespace of the running container `id` (pid on the host): the pid is
// pinned by a pidfd before /proc/PID/ns/net is opened and checked alive after, so a
// reused pid can never hand over another process's namespace.
UniqueFd join_container_netns(const std::string& id, pid_t pid);

// Prepares setup for spec, writing the network files into state_dir when the spec asks
// for them; returns the binds that put them (or the joined container's) over /etc.
std::vector<BindMount> prepare_network(const ContainerSpec& spec, const std::string& id, const std::string& runtime_dir,
                                       const std::string& state_dir, const std::string& hostname, NetworkSetup& setup);

}  // namespace kiln::runtime
