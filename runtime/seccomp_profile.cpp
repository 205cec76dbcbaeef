#include "runtime/seccomp_profile.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

namespace kiln::runtime {

namespace {

constexpr std::array<SeccompArchName, 20> arch_names = {{
    {"SCMP_ARCH_X86", "x86"},
    {"SCMP_ARCH_X86_64", "amd64"},
    {"SCMP_ARCH_X32", "x32"},
    {"SCMP_ARCH_ARM", "arm"},
    {"SCMP_ARCH_AARCH64", "arm64"},
    {"SCMP_ARCH_MIPS", "mips"},
    {"SCMP_ARCH_MIPS64", "mips64"},
    {"SCMP_ARCH_MIPS64N32", "mips64n32"},
    {"SCMP_ARCH_MIPSEL", "mipsel"},
    {"SCMP_ARCH_MIPSEL64", "mipsel64"},
    {"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
    {"SCMP_ARCH_PPC", "ppc"},
    {"SCMP_ARCH_PPC64", "ppc64"},
    {"SCMP_ARCH_PPC64LE", "ppc64le"},
    {"SCMP_ARCH_S390", "s390"},
    {"SCMP_ARCH_S390X", "s390x"},
    {"SCMP_ARCH_PARISC", "parisc"},
    {"SCMP_ARCH_PARISC64", "parisc64"},
    {"SCMP_ARCH_RISCV64", "riscv64"},
    {"SCMP_ARCH_LOONGARCH64", "loong64"},
}};

std::vector<std::string> split_names(std::string_view text) {
    std::vector<std::string> names;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t start = text.find_first_not_of(" \n", pos);
        if (start == std::string_view::npos) break;
        std::size_t end = text.find_first_of(" \n", start);
        if (end == std::string_view::npos) end = text.size();
        names.emplace_back(text.substr(start, end - start));
        pos = end;
    }
    return names;
}

CapMask cap(int number) { return CapMask{1} << number; }

SeccompRule allow(std::string_view names) { return {split_names(names), SeccompAction::allow, {}, {}, {}, {}}; }

SeccompRule allow_with_cap(int capability, std::string_view names) {
    SeccompRule rule = allow(names);
    rule.includes.caps = cap(capability);
    return rule;
}

SeccompRule allow_on(std::vector<std::string> arches, std::string_view names) {
    SeccompRule rule = allow(names);
    rule.includes.arches = std::move(arches);
    return rule;
}

SeccompRule allow_when(std::string_view name, SeccompArg arg) {
    SeccompRule rule = allow(name);
    rule.args = {arg};
    return rule;
}

// Creating any of these namespaces is what CAP_SYS_ADMIN guards in clone's flags.
constexpr std::uint64_t namespace_flags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

SeccompProfile make_docker_default() {
    SeccompProfile p;
    p.default_action = SeccompAction::errno_return;
    p.default_errno_ret = EPERM;
    p.arch_map = {
        {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
        {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
        {"SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}},
        {"SCMP_ARCH_MIPS64N32", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"}},
        {"SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}},
        {"SCMP_ARCH_MIPSEL64N32", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"}},
        {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
        {"SCMP_ARCH_RISCV64", {}},
        {"SCMP_ARCH_LOONGARCH64", {}},
    };
    auto& rules = p.syscalls;
    // What any process may do, whatever its capabilities.
    rules.push_back(allow(R"(
        accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
        chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
        clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
        copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
        epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
        exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
        fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
        flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
        fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
        futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
        geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
        getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
        getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
        gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
        inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
        landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
        listen listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr
        lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir
        mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
        mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64
        mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
        name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
        pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
        ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
        pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
        recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat
        rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction
        rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
        rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
        sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
        sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
        semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
        setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
        setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
        setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
        setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd
        signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
        statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee
        tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
        timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
        timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
        uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice
        wait4 waitid waitpid write writev
    )"));
    // Since 4.8 the kernel checks seccomp after ptrace, so a tracer can no longer rewrite
    // a filtered syscall into an allowed one.
    SeccompRule tracing = allow("process_vm_readv process_vm_writev ptrace");
    tracing.includes.min_kernel = KernelVersion{4, 8};
    rules.push_back(std::move(tracing));
    // Every socket family except AF_ALG and AF_VSOCK.
    rules.push_back(allow_when("socket", {0, AF_ALG, 0, SeccompOp::less}));
    rules.push_back(allow_when("socket", {0, AF_NFC, 0, SeccompOp::equal}));
    rules.push_back(allow_when("socket", {0, AF_VSOCK, 0, SeccompOp::greater}));
    // Personalities that change no security property (no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC).
    constexpr std::uint64_t uname26 = UNAME26, linux32 = PER_LINUX32;
    for (std::uint64_t persona : {std::uint64_t{PER_LINUX}, linux32, uname26, uname26 | linux32,
                                  std::uint64_t{0xffffffff} /* a query */})
        rules.push_back(allow_when("personality", {0, persona, 0, SeccompOp::equal}));
    rules.push_back(allow_on({"ppc64le"}, "sync_file_range2 swapcontext"));
    rules.push_back(allow_on({"arm", "arm64"},
                             "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"));
    rules.push_back(allow_on({"amd64", "x32"}, "arch_prctl"));
    rules.push_back(allow_on({"amd64", "x32", "x86"}, "modify_ldt"));
    rules.push_back(allow_on({"s390", "s390x"}, "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"));
    rules.push_back(allow_on({"riscv64"}, "riscv_flush_icache"));
    rules.push_back(allow_with_cap(CAP_DAC_READ_SEARCH, "open_by_handle_at"));
    rules.push_back(allow_with_cap(CAP_SYS_ADMIN, R"(
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
        lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount
        open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
        umount umount2 unshare
    )"));
    // Without CAP_SYS_ADMIN, clone may not create namespaces (flags are argument 1 on s390).
    SeccompRule clone = allow_when("clone", {0, namespace_flags, 0, SeccompOp::masked_equal});
    clone.excludes.caps = cap(CAP_SYS_ADMIN);
    clone.excludes.arches = {"s390", "s390x"};
    rules.push_back(std::move(clone));
    SeccompRule clone_s390 = allow_when("clone", {1, namespace_flags, 0, SeccompOp::masked_equal});
    clone_s390.includes.arches = {"s390", "s390x"};
    clone_s390.excludes.caps = cap(CAP_SYS_ADMIN);
    rules.push_back(std::move(clone_s390));
    // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libc fall
    // back to clone, whose flags can be checked.
    SeccompRule clone3{{"clone3"}, SeccompAction::errno_return, ENOSYS, {}, {}, {}};
    clone3.excludes.caps = cap(CAP_SYS_ADMIN);
    rules.push_back(std::move(clone3));
    rules.push_back(allow_with_cap(CAP_SYS_BOOT, "reboot"));
    rules.push_back(allow_with_cap(CAP_SYS_CHROOT, "chroot"));
    rules.push_back(allow_with_cap(CAP_SYS_MODULE, "delete_module init_module finit_module"));
    rules.push_back(allow_with_cap(CAP_SYS_PACCT, "acct"));
    rules.push_back(allow_with_cap(CAP_SYS_PTRACE,
                                   "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"));
    rules.push_back(allow_with_cap(CAP_SYS_RAWIO, "iopl ioperm"));
    rules.push_back(allow_with_cap(CAP_SYS_TIME, "settimeofday stime clock_settime clock_settime64"));
    rules.push_back(allow_with_cap(CAP_SYS_TTY_CONFIG, "vhangup"));
    rules.push_back(allow_with_cap(CAP_SYS_NICE, "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"));
    rules.push_back(allow_with_cap(CAP_SYSLOG, "syslog"));
    rules.push_back(allow_with_cap(CAP_BPF, "bpf"));
    rules.push_back(allow_with_cap(CAP_PERFMON, "perf_event_open"));
    return p;
}

}  // namespace

const SeccompProfile& docker_default_seccomp_profile() {
    static const SeccompProfile profile = make_docker_default();
    return profile;
}

std::span<const SeccompArchName> seccomp_arch_names() { return arch_names; }

std::optional<std::string_view> docker_arch_name(std::string_view scmp_arch) {
    for (const auto& name : arch_names)
        if (name.scmp == scmp_arch) return name.docker;
    return std::nullopt;
}

bool is_docker_arch_name(std::string_view name) {
    for (const auto& entry : arch_names)
        if (entry.docker == name) return true;
    return false;
}

}  // namespace kiln::runtime
