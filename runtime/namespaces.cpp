#include "runtime/namespaces.hpp"

#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

#if defined(__x86_64__)
// clone3 with a new stack needs assembly: the child starts on that stack and cannot
// return into the caller's frames. Returns the child's pid or -errno; the child calls
// fn(arg) and exits with its result. (The same shape as glibc's internal __clone3.)
extern "C" long kiln_clone3(clone_args* args, std::size_t size, int (*fn)(void*), void* arg);
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".type kiln_clone3, @function\n"
    "kiln_clone3:\n"
    "    mov %rcx, %r8\n"         // arg survives the syscall in r8 (rdx, fn, does too)
    "    mov $435, %eax\n"        // __NR_clone3
    "    syscall\n"
    "    test %rax, %rax\n"
    "    jz 1f\n"
    "    ret\n"                   // parent (pid) or error (-errno)
    "1:  xor %ebp, %ebp\n"        // child: outermost frame on the new stack
    "    mov %r8, %rdi\n"
    "    call *%rdx\n"
    "    mov %rax, %rdi\n"
    "    mov $60, %eax\n"         // __NR_exit
    "    syscall\n"
    "    hlt\n"
    ".size kiln_clone3, .-kiln_clone3\n");
constexpr bool have_clone3 = true;
#else
long kiln_clone3(clone_args*, std::size_t, int (*)(void*), void*) { return -ENOSYS; }
constexpr bool have_clone3 = false;
#endif

// Blocks every signal in the calling thread for its lifetime, so no handler of the
// parent's runs in the child before the child has reset them (as posix_spawn does).
class BlockAllSignals {
public:
    BlockAllSignals() {
        sigset_t all;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &saved_);
    }
    ~BlockAllSignals() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    BlockAllSignals(const BlockAllSignals&) = delete;
    BlockAllSignals& operator=(const BlockAllSignals&) = delete;

private:
    sigset_t saved_;
};

}  // namespace

ChildStack::ChildStack() {
    base_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED) throw_errno("allocate container process stack");
    ::mprotect(base_, 4096, PROT_NONE);
}

ChildStack::~ChildStack() { ::munmap(base_, size); }

pid_t clone_from_child(unsigned long flags, const ChildStack& stack, int (*fn)(void*), void* arg) {
    const unsigned long shared = CLONE_VM | CLONE_VFORK;
    long pid = -ENOSYS;
    if (have_clone3) {
        clone_args args{};
        args.flags = flags | shared;
        // With CLONE_PARENT the kernel takes the caller's exit signal and refuses another.
        args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
        args.stack = reinterpret_cast<__u64>(stack.base());
        args.stack_size = ChildStack::size;
        pid = kiln_clone3(&args, sizeof args, fn, arg);
    }
    if (pid == -ENOSYS) {
        pid = ::clone(fn, stack.top(), static_cast<int>(flags | shared | SIGCHLD), arg);
        if (pid < 0) pid = -errno;
    }
    return static_cast<pid_t>(pid);
}

CloneResult clone_process(unsigned long flags, int cgroup_fd, bool* placed, int (*fn)(void*), void* arg) {
    ChildStack stack;
    BlockAllSignals blocked;
    const unsigned long shared = CLONE_VM | CLONE_VFORK;
    int pidfd = -1;
    long pid = -ENOSYS;
    if (have_clone3) {
        clone_args args{};
        args.flags = flags | shared | CLONE_PIDFD;
        args.pidfd = reinterpret_cast<__u64>(&pidfd);
        args.exit_signal = SIGCHLD;
        args.stack = reinterpret_cast<__u64>(stack.base());
        args.stack_size = ChildStack::size;
        *placed = cgroup_fd >= 0;
        if (*placed) {
            args.flags |= CLONE_INTO_CGROUP;
            args.cgroup = static_cast<__u64>(cgroup_fd);
        }
        pid = kiln_clone3(&args, sizeof args, fn, arg);
        if (pid < 0 && *placed && pid != -ENOSYS) {
            // E2BIG/EINVAL (kernel < 5.7) or a group that refuses: the child joins itself.
            *placed = false;
            args.flags &= ~static_cast<__u64>(CLONE_INTO_CGROUP);
            args.cgroup = 0;
            pid = kiln_clone3(&args, sizeof args, fn, arg);
        }
    }
    if (pid == -ENOSYS) {
        // Kernels before 5.3: glibc's clone, which still takes CLONE_PIDFD (5.2+).
        *placed = false;
        pidfd = -1;
        pid = ::clone(fn, stack.top(), static_cast<int>(flags | shared | SIGCHLD), arg);
        if (pid < 0) pid = -errno;
    }
    if (pid < 0) throw_errno("clone container process", static_cast<int>(-pid));
    return {static_cast<pid_t>(pid), pidfd};
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
