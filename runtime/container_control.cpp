#include "runtime/container_control.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "runtime/freezer.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

UniqueFd open_container_init(const ContainerRow& row) {
    if (row.state != "running" || row.pid <= 0) return {};
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(row.pid), 0)));
    if (!pidfd) return {};
    // Opened first, checked second: the pidfd cannot move to another process meanwhile.
    std::string cgroups;
    try {
        cgroups = read_file("/proc/" + std::to_string(row.pid) + "/cgroup");
    } catch (const Error&) {
        return {};
    }
    if (cgroups.find("/kiln/" + row.id) == std::string::npos) return {};
    // Still alive, so the pid read above was still its own and not a reused one.
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) != 0) return {};
    return pidfd;
}

bool signal_container(const ContainerRow& row, int sig) {
    UniqueFd pidfd = open_container_init(row);
    if (!pidfd) return false;
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) != 0) return false;
    // As Docker: a paused container is thawed once signalled, so that it can act on it.
    auto freezer = container_freezer(row.id);
    if (freezer_frozen(freezer)) {
        try {
            freezer_set(freezer, false);
        } catch (const Error&) {
            // It exited meanwhile and took its group along.
        }
    }
    return true;
}

bool wait_container_stopped(const ContainerRow& row, int timeout_ms) {
    using namespace std::chrono;
    const auto start = steady_clock::now();
    if (UniqueFd pidfd = open_container_init(row)) {
        pollfd p{pidfd.get(), POLLIN, 0};
        int rc;
        while ((rc = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
        }
        if (rc == 0) return false;
    }
    // The init is gone; its monitor records the exit and lets go of the lock just after.
    for (;;) {
        if (!runtime_dir_locked(row.id)) return true;
        if (timeout_ms >= 0 && steady_clock::now() - start > milliseconds(timeout_ms) + seconds(5)) return false;
        ::usleep(1000);
    }
}

void stop_container(const ContainerRow& row, int sig, int timeout_s) {
    if (!signal_container(row, sig)) {
        wait_container_stopped(row, 0);
        return;
    }
    if (wait_container_stopped(row, timeout_s < 0 ? -1 : timeout_s * 1000)) return;
    signal_container(row, SIGKILL);
    wait_container_stopped(row, -1);
}

}  // namespace kiln::runtime
