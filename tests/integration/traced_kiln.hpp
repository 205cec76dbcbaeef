#pragma once
// The race a kill -9 of kiln can hit while it starts a container process: kiln dies after
// clone but before the child has armed its parent-death signal (or after a change of user
// cleared it and before it is armed again). A test cannot win a race of microseconds by
// timing, so it runs kiln under ptrace, holds the new process at the chosen point, kills
// kiln with SIGKILL there, and only then lets the process go on.
#include <string>
#include <sys/types.h>
#include <vector>

namespace kiln::test {

enum class HoldPoint {
    first_instruction,  // the child's first instruction after clone
    after_setresuid,    // the return of the child's setresuid (its change of user)
};

struct HeldChild {
    pid_t pid = -1;          // host pid of the process kiln started, no longer traced
    std::string cgroup_id;   // its kiln cgroup's name, read while it was held ("" if none)
};

// Runs argv (argv[0] a path) traced, output discarded. The first process it starts in
// another pid namespace than the test's is held at `point`; kiln is killed and reaped,
// then the process is released. Fails the test when kiln never starts one (20 s).
HeldChild kill_kiln_while_holding_child(const std::vector<std::string>& argv, HoldPoint point);

}  // namespace kiln::test
