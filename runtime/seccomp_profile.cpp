#include "runtime/seccomp_profile.hpp"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

// Denied outright (Docker's default profile allows none of these without extra caps).
constexpr const char* denied_syscalls[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
    "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
    "get_kernel_syms", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
    "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
    "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "quotactl", "quotactl_fd", "query_module", "reboot", "request_key",
    "setns", "settimeofday", "stime", "swapoff", "swapon", "_sysctl", "syslog", "umount",
    "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
    "io_uring_enter", "io_uring_register", "io_uring_setup",
};

// clone with any of these flags would create namespaces: denied, as Docker does for
// containers without CAP_SYS_ADMIN.
constexpr unsigned long namespace_flags[] = {
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
    CLONE_NEWCGROUP,
};

struct CtxDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

void check(int rc, const char* what) {
    if (rc < 0) throw_errno(std::string("seccomp: ") + what, -rc);
}

std::vector<sock_filter> compile() {
    Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) throw Error("seccomp_init failed");
    // 32-bit x86 and x32 programs get the same rules (rather than being killed).
    for (std::uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32})
        if (seccomp_arch_native() == SCMP_ARCH_X86_64) check(seccomp_arch_add(ctx.get(), arch), "add arch");
    for (const char* name : denied_syscalls) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0), name);
    }
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
    for (unsigned long flag : namespace_flags)
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
              "clone");

    // libseccomp 2.5 exports only to an fd: go through a memfd.
    UniqueFd mem(::memfd_create("kiln-seccomp", MFD_CLOEXEC));
    if (!mem) throw_errno("memfd_create");
    check(seccomp_export_bpf(ctx.get(), mem.get()), "export");
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
        throw Error("seccomp: bad exported program size");
    std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (::pread(mem.get(), program.data(), static_cast<std::size_t>(size), 0) != size)
        throw_errno("seccomp: read exported program");
    return program;
}

}  // namespace

const std::vector<sock_filter>& default_seccomp_program() {
    static const std::vector<sock_filter> program = compile();
    return program;
}

bool install_seccomp(const std::vector<sock_filter>& program, ChildReport& report) {
    sock_fprog prog{static_cast<unsigned short>(program.size()),
                    const_cast<sock_filter*>(program.data())};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return report.fail_errno(errno, "load seccomp profile");
    return true;
}

}  // namespace kiln::runtime
