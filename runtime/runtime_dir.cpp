#include "runtime/runtime_dir.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>

#include <cerrno>

#include "image/staging.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/netlink/release.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// Entries are made and locked here, then renamed into runtime_dirs_parent(): an entry
// appears there already locked, so any unlocked one is stale, with no age guard needed.
// Same filesystem as the parent, for the rename.
struct Locations {
    std::string staging, containers;
};

const Locations& locations() {
    static const Locations found = [] {
        for (std::string base : {"/run/kiln", "/tmp/kiln-run"}) {
            try {
                Locations l{base + "/staging", base + "/containers"};
                mkdir_p(l.staging);
                mkdir_p(l.containers);
                return l;
            } catch (const Error&) {
                // Not writable (an unprivileged or read-only /run): try the next.
            }
        }
        throw Error("cannot create a runtime directory under /run/kiln or /tmp/kiln-run");
    }();
    return found;
}

// A staging entry's creator locks it microseconds after creating it; a minute is ample.
constexpr long staging_grace_seconds = 60;

}  // namespace

const std::string& runtime_dirs_parent() { return locations().containers; }

RuntimeDir::RuntimeDir(const std::string& container_id) {
    const Locations& where = locations();
    image::StagingDir stage(where.staging, "new-");
    const std::string dest = where.containers + "/" + container_id;
    if (::renameat2(AT_FDCWD, stage.path().c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST) throw Error("a container with id " + container_id + " is already running");
        throw_errno("create runtime directory " + dest);
    }
    path_ = dest;
    lock_ = stage.release();
}

RuntimeDir::RuntimeDir(const std::string& container_id, int lock_fd)
    : path_(locations().containers + "/" + container_id), lock_(lock_fd) {
    if (!path_exists(path_)) throw Error("the runtime directory of container " + container_id + " is gone");
    ::fcntl(lock_fd, F_SETFD, FD_CLOEXEC);
}

RuntimeDir::~RuntimeDir() {
    try {
        remove_all(path_);
    } catch (const Error&) {
        // Left for the next sweep, which removes it once this process has let go of the lock.
    }
}

bool runtime_dir_locked(const std::string& container_id) {
    const std::string dir = locations().containers + "/" + container_id;
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return false;
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;
    return errno == EWOULDBLOCK;
}

void wait_runtime_dir_unlocked(const std::string& container_id) {
    const std::string dir = locations().containers + "/" + container_id;
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return;
    while (::flock(fd.get(), LOCK_SH) != 0 && errno == EINTR) {
    }
}

namespace {

// What an unlocked runtime dir's container left outside it; false while its cgroups still
// hold processes (the dir is then kept for a later try).
bool release_dead_container(const std::string& container_id) {
    if (!remove_leftover_cgroup(container_id)) return false;
    // Its processes are gone: what its bridge attachment left (a killed monitor's) goes too.
    netlink::release_attachment(locations().containers + "/" + container_id);
    return true;
}

}  // namespace

void remove_stale_runtime_dir(const std::string& container_id) {
    const std::string dir = locations().containers + "/" + container_id;
    UniqueFd lock = image::try_lock_path(dir);
    if (!lock) return;  // gone, or its kiln or monitor is alive
    if (!release_dead_container(container_id)) return;
    try {
        remove_all(dir);
    } catch (const Error&) {
        // Left for the next sweep.
    }
}

void sweep_stale_runtime_dirs() {
    const Locations& where = locations();
    image::remove_stale_entries(where.containers, 0, release_dead_container);
    image::remove_stale_entries(where.staging, staging_grace_seconds);
}

}  // namespace kiln::runtime
