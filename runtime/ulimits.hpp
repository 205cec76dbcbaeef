#pragma once
// `--ulimit TYPE=SOFT[:HARD]` (go-units' ParseUlimit: Docker's names, decimal values, -1
// for unlimited, HARD defaulting to SOFT), and the resource limits a container process
// gets from them. kiln runs without CAP_SYS_RESOURCE in some places, so a hard limit above
// the one kiln itself has cannot be granted: that is refused before anything starts.
#include <sys/resource.h>

#include <string>
#include <vector>

#include "runtime/child_report.hpp"
#include "runtime/host_settings.hpp"

namespace kiln::runtime {

// Throws kiln::Error with the docker CLI's wording for a bad value.
Ulimit parse_ulimit(const std::string& text);

struct Rlimit {
    int resource = 0;  // RLIMIT_*
    rlimit limit{};
};

// The process limits for ulimits, checked against this process's own hard limits.
// Throws kiln::Error for a hard limit above kiln's.
std::vector<Rlimit> to_rlimits(const std::vector<Ulimit>& ulimits);

// Container side (no allocation): sets each limit.
bool apply_rlimits(const std::vector<Rlimit>& limits, ChildReport& report);

}  // namespace kiln::runtime
