#pragma once
// Where a running container's host-side state lives, and how what a kill -9 leaves
// behind is found again without a daemon: each container owns
// "/run/kiln/containers/<id>/" (/tmp/kiln-run/... where /run is not writable), flock()ed
// by the kiln process that runs it for the container's whole life and created before its
// cgroups. An entry nobody holds a lock on belongs to a dead kiln; the next command that
// runs containers removes the cgroups of that id (killing anything left in them) and then
// the entry, using the store's stale-entry sweep (image/staging.hpp).
#include <string>

#include "util/fd.hpp"

namespace kiln::runtime {

class RuntimeDir {
public:
    // Creates and locks the directory of `container_id`; throws kiln::Error if it cannot,
    // or if a container of that id is running.
    explicit RuntimeDir(const std::string& container_id);
    // Takes over the existing directory of `container_id` whose lock `lock_fd` holds (the
    // monitor restarting its container hands it on to the new run). Throws kiln::Error if
    // the directory is missing.
    RuntimeDir(const std::string& container_id, int lock_fd);
    ~RuntimeDir();  // removes the directory and everything in it
    RuntimeDir(const RuntimeDir&) = delete;
    RuntimeDir& operator=(const RuntimeDir&) = delete;

    const std::string& path() const { return path_; }
    // The descriptor holding the lock: a monitor inherits it to keep the lock for the
    // container's life (runtime/detach.hpp).
    int lock_fd() const { return lock_.get(); }

private:
    std::string path_;
    UniqueFd lock_;
};

// Whether the container `container_id` runs: its runtime dir exists and someone holds its
// lock (the kiln process or the monitor that runs it).
bool runtime_dir_locked(const std::string& container_id);

// Waits until nobody holds the lock of `container_id`'s runtime dir (or it is gone).
void wait_runtime_dir_unlocked(const std::string& container_id);

// The directory holding one entry per running container.
const std::string& runtime_dirs_parent();

// Cleans up after containers whose kiln process died: see the file comment. Cheap when
// there is nothing to do (one directory listing), so every container-running command
// calls it first.
void sweep_stale_runtime_dirs();
// The same for one container: its runtime dir, leftover cgroups and bridge attachment go
// once no process holds the dir; while one does, nothing changes. `rm` needs only its own
// container's, and sweeping every container's made it cost ~0.5 ms per 100 running ones.
void remove_stale_runtime_dir(const std::string& container_id);

}  // namespace kiln::runtime
