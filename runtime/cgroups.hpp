#pragma once
// A per-container cgroup in every hierarchy the host offers: cgroup v1 `pids`, `memory`
// and `cpu`, plus cgroup2 (at /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on
// a "hybrid" one). Hybrid hosts are common on older distributions; crun refuses them,
// kiln uses both halves.
#include <sys/types.h>

#include <string>
#include <vector>

namespace kiln::runtime {

class Cgroup {
public:
    // Creates "<hierarchy>/kiln/<name>" in each hierarchy present. A hierarchy that is not
    // mounted (or mounted read-only) is skipped with a note on stderr when KILN_DEBUG is
    // set; any other failure throws kiln::Error.
    explicit Cgroup(const std::string& name);
    ~Cgroup();  // removes the directories; the processes must be gone
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;

    // Moves pid into every created cgroup.
    void attach(pid_t pid);
    const std::vector<std::string>& paths() const { return dirs_; }

private:
    std::vector<std::string> dirs_;
};

}  // namespace kiln::runtime
