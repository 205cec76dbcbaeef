#pragma once
// A per-container cgroup in every hierarchy the host offers: cgroup v1 `pids`, `memory`,
// `devices`, `blkio`, (with a cpu limit or shares) `cpu`, (with --cpuset-cpus) `cpuset` and
// (without cgroup2) `freezer`, plus cgroup2 (at /sys/fs/cgroup on a pure v2 host,
// /sys/fs/cgroup/unified on a "hybrid" one). Hybrid hosts are common on older
// distributions; crun refuses them, kiln uses both halves.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/child_report.hpp"
#include "runtime/device_policy.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

// Resource limits; 0 (or "") means none. Like docker run --memory, --pids-limit, --cpus,
// --memory-swap, --memory-reservation, --cpu-shares, --cpuset-cpus.
struct CgroupLimits {
    std::int64_t memory_bytes = 0;
    std::int64_t pids = 0;
    double cpus = 0;
    // Memory plus swap, Docker's way: 0 is as much swap as memory again, -1 unlimited.
    std::int64_t memory_swap = 0;
    std::int64_t memory_reservation = 0;  // soft limit
    std::int64_t cpu_shares = 0;          // v1 weight (1024 is the default)
    std::string cpuset_cpus;              // "0-1", "0,1"
};

// The cgroup2 cpu.weight for v1 cpu.shares (the OCI runtimes' linear map of [2, 262144]
// onto [1, 10000]); shares outside the range are first clamped as the v1 kernel does.
std::int64_t cpu_weight_for_shares(std::int64_t shares);

// Docker's floor for --memory: below it a container cannot even start its command.
constexpr std::int64_t min_memory_limit = 6 << 20;

// Throws kiln::Error (Docker's wording) for limits Docker refuses: memory below 6 MB,
// swap without memory or below it, a reservation below 6 MB or above the memory limit.
void validate_limits(const CgroupLimits& limits);

class Cgroup {
public:
    // Creates "<hierarchy>/kiln/<name>" in each hierarchy present, with the limits and
    // the device policy in force before any process joins. A hierarchy that is not
    // mounted (or mounted read-only) is skipped with a note on stderr when KILN_DEBUG is
    // set; any other failure throws kiln::Error, as does a limit or a device policy that
    // no hierarchy can enforce. Memory limits get Docker's swap allowance (as much swap
    // as memory) where the kernel accounts swap.
    Cgroup(const std::string& name, const CgroupLimits& limits, const DevicePolicy& devices);
    ~Cgroup();  // removes the directories; the processes must be gone
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

    // How a new container process gets in, without the ~10 ms a cgroup.procs write of
    // another process costs: moving a whole process takes the kernel's global threadgroup
    // lock, whose RCU grace period would dominate container start. Instead
    //  - cgroup2: clone3(CLONE_INTO_CGROUP) with this directory fd (-1 if no cgroup2), or,
    //    where the kernel cannot, the child writes "0" to v2_procs_file() (slow path);
    //  - cgroup v1: the still single-threaded child writes "0" to each "tasks" file;
    //    moving only the calling thread skips that lock.
    // Every group enforces something, so failing to join any of them is fatal.
    int clone_into_fd() const { return v2_fd_.get(); }
    const std::vector<std::string>& v1_tasks_files() const { return v1_tasks_; }
    const std::string& v2_procs_file() const { return v2_procs_; }
    const std::vector<std::string>& paths() const { return dirs_; }
    // How many processes of the group the kernel's OOM killer has killed so far.
    std::int64_t oom_kills() const;

private:
    std::vector<std::string> dirs_;
    std::vector<std::string> v1_tasks_;
    std::string v2_procs_;
    UniqueFd v2_fd_;
};

// The groups of a running container, "<hierarchy>/kiln/<name>" where they exist, for a
// process that joins it (kiln exec) the way Cgroup::clone_into_fd and friends describe.
struct ContainerCgroups {
    std::vector<std::string> v1_tasks;  // "tasks" files
    std::string v2_procs;               // "cgroup.procs", or empty without cgroup2
    UniqueFd v2_fd;                     // that group's directory, for CLONE_INTO_CGROUP
};
// Throws kiln::Error if the container has no group at all (it is not running).
ContainerCgroups find_container_cgroups(const std::string& name);

// Where a container's groups are, by what they account or control, for reading its usage
// (stats, top) and freezing it (pause). Each is empty where the host has no such group for
// it: the v1 cpu group exists only with a cpu limit, the v1 freezer only without cgroup2.
struct ContainerCgroupPaths {
    std::string unified;                          // cgroup2 (pure v2 or hybrid)
    std::string pids, memory, cpu, blkio, freezer;  // cgroup v1
};
ContainerCgroupPaths container_cgroup_paths(const std::string& name);
// Only the group a freeze goes to: the cgroup2 one, else the v1 freezer (both empty when
// neither exists). Two probes instead of one per hierarchy: `ps` asks it of every
// running container.
ContainerCgroupPaths container_freezer_paths(const std::string& name);

// Every process in container `name`'s group and the groups below it (a container may
// make its own in its cgroup namespace), from cgroup2 or else a v1 hierarchy. Empty when
// it has no group.
std::vector<pid_t> container_pids(const std::string& name);

// For what a killed kiln left behind: kills every process still in "<hierarchy>/kiln/<name>"
// and removes those directories, in every hierarchy. Best effort (a directory that stays
// busy is left for the next try); returns whether none is left.
bool remove_leftover_cgroup(const std::string& name);

// Container side (no allocation): moves the calling process into the group of one
// "tasks" or "cgroup.procs" file by writing "0" to it.
bool join_cgroup_self(const std::string& file, ChildReport& report);

}  // namespace kiln::runtime
