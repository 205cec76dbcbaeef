#include "runtime/namespaces.hpp"

#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

CloneResult clone_process(unsigned long flags, int cgroup_fd) {
    // clone3 with CLONE_PIDFD gives a pidfd, so signals can never hit a recycled pid.
    int pidfd = -1;
    clone_args args{};
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<__u64>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<__u64>(cgroup_fd);
    }
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && cgroup_fd >= 0 && errno != ENOSYS) {
        // E2BIG/EINVAL (kernel < 5.7) or a cgroup that refuses: the caller attaches later.
        args.flags &= ~static_cast<__u64>(CLONE_INTO_CGROUP);
        args.cgroup = 0;
        pid = ::syscall(SYS_clone3, &args, sizeof args);
    }
    if (pid < 0 && errno == ENOSYS) {
        pidfd = -1;
        args.flags = 0;
        pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    }
    if (pid < 0) throw_errno("clone container process");
    if (pid == 0) return {0, -1, false};
    return {static_cast<pid_t>(pid), pidfd, (args.flags & CLONE_INTO_CGROUP) != 0};
}

bool set_hostname(const char* name, ChildReport& r) {
    if (::sethostname(name, std::strlen(name)) != 0) return r.fail_errno(errno, "sethostname %s", name);
    return true;
}

bool bring_up_loopback(ChildReport& r) {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return r.fail_errno(errno, "socket");
    ifreq req{};
    std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) return r.fail_errno(errno, "get flags of lo");
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) return r.fail_errno(errno, "bring up lo");
    return true;
}

}  // namespace kiln::runtime
