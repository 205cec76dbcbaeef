#pragma once
// How many processes of a cgroup the kernel's OOM killer has killed, for Docker's
// State.OOMKilled. Shared by kiln (foreground run) and kiln-monitor (detached), which
// links nothing of kiln's: plain reads, no exceptions.
#include <cstdint>
#include <string>

namespace kiln::runtime {

// The "oom_kill" count of one cgroup directory: cgroup2's memory.events, or cgroup v1's
// memory.oom_control (kernel 4.13+). 0 where the group has neither (no memory controller).
std::int64_t cgroup_oom_kills(const std::string& dir);

}  // namespace kiln::runtime
