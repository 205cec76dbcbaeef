#pragma once
// Mount propagation of -v/--mount binds as Docker sets it up. A container's mounts are
// private by default: nothing mounted on the host reaches it and nothing it mounts
// reaches the host. A bind marked shared or slave needs more: the container's mount
// namespace keeps its copies of the host's mounts as peers (rshared) or slaves (rslave),
// and only the mount holding the rootfs is cut off, so the rootfs and everything mounted
// in it stay invisible to the host. Like Docker, a shared bind needs a source on a shared
// mount, a slave bind one on a shared or slave mount; anything else is an error before
// the container starts, not a flag that silently does nothing.
#include <optional>
#include <string>
#include <vector>

#include "runtime/container.hpp"

namespace kiln::runtime {

// One line of /proc/self/mountinfo, as far as propagation goes.
struct MountEntry {
    std::string mount_point;
    bool shared = false;  // "shared:N"
    bool slave = false;   // "master:N"
};

// The mount that holds the absolute, symlink-free `path` in `mountinfo` text: the one with
// the longest mount point that is path or an ancestor of it (the later of equal ones, which
// is mounted on top). nullopt when the text has none.
std::optional<MountEntry> mount_holding(const std::string& path, const std::string& mountinfo);

struct PropagationPlan {
    unsigned long root_flags = 0;  // for "/" of the container's namespace, MS_REC included
    std::string private_parent;   // the mount to make private before the rootfs; "": none needed
    bool keeps_host_peers() const;
};

// Checks the sources of spec.propagation's binds (found in `binds` by destination) against
// the host's mount table and plans the namespace around rootfs_mountpoint. Throws
// kiln::Error with Docker's wording for a source whose mount cannot propagate.
PropagationPlan plan_propagation(const std::vector<MountPropagation>& propagation, const std::vector<BindMount>& binds,
                                 const std::string& rootfs_mountpoint);

}  // namespace kiln::runtime
