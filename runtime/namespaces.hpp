#pragma once
// Creating the container process in new namespaces, and the per-namespace setup that is
// not about mounts (hostname, loopback).
#include <sys/types.h>

#include "runtime/child_report.hpp"

namespace kiln::runtime {

struct CloneResult {
    pid_t pid = -1;    // 0 in the child
    int pidfd = -1;    // parent only; -1 where clone3/CLONE_PIDFD is unavailable
    bool in_cgroup = false;  // placed in cgroup_fd's group by clone3(CLONE_INTO_CGROUP)
};

// fork()-like: returns twice. `flags` are CLONE_NEW* flags; the child gets SIGCHLD as its
// exit signal and runs on a copy of the caller's stack. cgroup_fd (a cgroup2 directory, or
// -1) is where the child starts, if the kernel can do that. Throws kiln::Error on failure.
// The child is a copy of only the calling thread: it must not allocate or take locks.
CloneResult clone_process(unsigned long flags, int cgroup_fd);

// Container side (no allocation).
bool set_hostname(const char* name, ChildReport& report);
bool bring_up_loopback(ChildReport& report);

}  // namespace kiln::runtime
