#pragma once
// The container's filesystem, built inside its private mount namespace: the rootfs mount,
// /proc, /sys (read-only), a minimal /dev, masked and read-only /proc paths, the caller's
// bind mounts, then pivot_root. Runs in the cloned process, so it never allocates.
//
// Every target inside the rootfs is opened with openat2(RESOLVE_IN_ROOT) and mounted
// through /proc/self/fd/N, so a symlink in the image (say /proc -> /etc on the host)
// cannot redirect a mount outside the container.
#include <vector>

#include "image/mount_spec.hpp"
#include "runtime/child_report.hpp"
#include "runtime/container.hpp"

namespace kiln::runtime {

struct RootfsPlan {
    const image::MountSpec* rootfs = nullptr;
    const char* mountpoint = nullptr;  // existing host directory to mount the rootfs on
    const std::vector<BindMount>* binds = nullptr;
    bool privileged = false;  // /sys read-write and no masked or read-only /proc paths
    const std::vector<TmpfsMount>* tmpfs = nullptr;     // mounted before the binds
    const std::vector<DeviceNode>* devices = nullptr;   // made after /dev
    const char* shm_options = "mode=1777,size=65536k";  // /dev/shm's tmpfs data
    const std::vector<MountPropagation>* propagation = nullptr;  // applied after the binds
    // mount_propagation.hpp's plan: the flags for "/" (0: MS_REC | MS_PRIVATE) and, when
    // they keep the host's peers, the mount made private before the rootfs goes on it.
    unsigned long root_propagation = 0;
    const char* private_parent = nullptr;
};

// Mounts everything and pivots into the new root; afterwards "/" is the container's.
// Expects to be in a fresh mount namespace.
bool setup_rootfs(const RootfsPlan& plan, ChildReport& report);

// Creates `path` and its missing parents (mode 0755); "/" is fine. Used for the working
// directory after pivot_root, where plain paths can no longer escape.
bool make_directories(const char* path, ChildReport& report);

}  // namespace kiln::runtime
