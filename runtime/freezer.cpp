#include "runtime/freezer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "runtime/cgroups.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

std::string control_file(const FreezerGroup& group) {
    return group.dir + (group.v2 ? "/cgroup.freeze" : "/freezer.state");
}

std::string read_control(const std::string& path) {
    try {
        return read_file(path);
    } catch (const Error&) {
        return "";
    }
}

// Whether every task of the group has reached the state asked for.
bool settled(const FreezerGroup& group, bool frozen) {
    if (group.v2) {
        const std::string events = read_control(group.dir + "/cgroup.events");
        return events.find(frozen ? "frozen 1" : "frozen 0") != std::string::npos;
    }
    return read_control(control_file(group)).starts_with(frozen ? "FROZEN" : "THAWED");
}

}  // namespace

FreezerGroup container_freezer(const std::string& name) {
    auto paths = container_freezer_paths(name);
    if (!paths.unified.empty()) return {paths.unified, true};
    if (!paths.freezer.empty()) return {paths.freezer, false};
    return {"", true};
}

bool freezer_frozen(const FreezerGroup& group) {
    if (group.dir.empty()) return false;
    const std::string state = read_control(control_file(group));
    return group.v2 ? state.starts_with('1') : (state.starts_with("FROZEN") || state.starts_with("FREEZING"));
}

void freezer_set(const FreezerGroup& group, bool frozen) {
    using namespace std::chrono;
    if (group.dir.empty()) throw Error("the container has no cgroup freezer");
    const std::string path = control_file(group);
    const std::string value = group.v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
    const auto deadline = steady_clock::now() + seconds(5);
    for (;;) {
        // v1 may stay FREEZING while a task is in an uninterruptible sleep; writing again
        // retries the tasks that were not stopped yet (what runc does).
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) throw_errno("open " + path);
        if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
            throw_errno("write " + value + " to " + path);
        for (int i = 0; i < 50; ++i) {
            if (settled(group, frozen)) return;
            std::this_thread::sleep_for(milliseconds(1));
        }
        if (steady_clock::now() > deadline)
            throw Error(std::string("the cgroup freezer of ") + group.dir + " did not settle " +
                        (frozen ? "frozen" : "thawed"));
    }
}

bool container_paused(const std::string& name) { return freezer_frozen(container_freezer(name)); }

}  // namespace kiln::runtime
