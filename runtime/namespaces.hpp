#pragma once
// Creating the container process in new namespaces, and the per-namespace setup that is
// not about mounts (hostname, loopback).
#include <sys/types.h>

#include <cstddef>

#include "runtime/child_report.hpp"

namespace kiln::runtime {

struct CloneResult {
    pid_t pid = -1;
    int pidfd = -1;          // -1 where clone3/CLONE_PIDFD is unavailable
};

// Starts fn(arg) in a new process with the CLONE_NEW* `flags`, posix_spawn style: the
// child shares the caller's memory (CLONE_VM) on its own stack, and the calling thread
// is suspended until the child calls execve or exits (CLONE_VFORK). Unlike fork, the cost
// does not grow with the caller's size (fork of a 1 GB process: +40 ms).
//
// fn must not allocate, take locks, or touch memory other threads use: those threads
// keep running beside it. If cgroup_fd (a cgroup2 directory) is >= 0 the child is
// started inside that group where the kernel can (clone3 CLONE_INTO_CGROUP); *placed
// tells the child, before fn runs, whether that happened.
// Throws kiln::Error if no process could be created.
CloneResult clone_process(unsigned long flags, int cgroup_fd, bool* placed, int (*fn)(void*), void* arg);

// The stack of a process started by clone_from_child, allocated by the parent beforehand
// (the process that clones may not allocate). A guard page sits below it.
class ChildStack {
public:
    static constexpr std::size_t size = 256 * 1024;
    ChildStack();
    ~ChildStack();
    ChildStack(const ChildStack&) = delete;
    ChildStack& operator=(const ChildStack&) = delete;
    void* base() const { return base_; }
    void* top() const { return static_cast<char*>(base_) + size; }

private:
    void* base_;
};

// Setup-child side (no allocation, no throw): clone_process's posix_spawn-style start of
// fn(arg), on `stack`, from a process that was itself started that way (exec's joiner,
// whose children are the first in the container's pid namespace). `flags` may add
// CLONE_PARENT. Returns the pid, or -errno.
pid_t clone_from_child(unsigned long flags, const ChildStack& stack, int (*fn)(void*), void* arg);

// Container side (no allocation).
bool set_hostname(const char* name, ChildReport& report);
bool bring_up_loopback(ChildReport& report);

}  // namespace kiln::runtime
