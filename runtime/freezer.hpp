#pragma once
// `kiln pause` / `unpause`: the cgroup freezer of a running container, from any kiln
// process. cgroup2's cgroup.freeze where the container has a cgroup2 group (pure v2 and
// hybrid hosts), else the v1 freezer's freezer.state. The freezer itself is the record:
// a paused container is one whose group is frozen, whoever froze it.
#include <string>

namespace kiln::runtime {

// One group's freezer: a cgroup2 directory (cgroup.freeze) or a v1 freezer one
// (freezer.state).
struct FreezerGroup {
    std::string dir;
    bool v2 = true;
};

// The group that freezes container `name`; its dir is empty when it has none (it does not
// run).
FreezerGroup container_freezer(const std::string& name);

// Whether the group is frozen or freezing. False for a group that is gone.
bool freezer_frozen(const FreezerGroup& group);

// Freezes or thaws the group and waits until every task in it is (v1 reports FREEZING
// until each one has stopped). Throws kiln::Error if the group cannot be written or does
// not settle within a few seconds.
void freezer_set(const FreezerGroup& group, bool frozen);

// Whether container `name`'s group is frozen (false when it has none).
bool container_paused(const std::string& name);

}  // namespace kiln::runtime
