#include <catch2/catch.hpp>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "runtime/seccomp_compile.hpp"
#include "runtime/seccomp_json.hpp"
#include "util/error.hpp"

using namespace kiln::runtime;

namespace {

// A classic-BPF interpreter for what libseccomp and kiln's stub emit, so the program can be
// checked syscall by syscall without installing it.
std::uint32_t run_filter(const std::vector<sock_filter>& program, const seccomp_data& data) {
    unsigned char bytes[sizeof data];
    std::memcpy(bytes, &data, sizeof data);
    std::uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        const sock_filter& f = program[pc];
        auto jump = [&](bool taken) { pc += taken ? f.jt : f.jf; };
        std::uint32_t operand = BPF_SRC(f.code) == BPF_X ? x : f.k;
        switch (f.code) {
            case BPF_LD | BPF_W | BPF_ABS:
                REQUIRE(f.k + 4 <= sizeof data);
                std::memcpy(&a, bytes + f.k, 4);
                break;
            case BPF_LD | BPF_MEM: a = mem[f.k]; break;
            case BPF_LDX | BPF_MEM: x = mem[f.k]; break;
            case BPF_ST: mem[f.k] = a; break;
            case BPF_STX: mem[f.k] = x; break;
            case BPF_LD | BPF_IMM: a = f.k; break;
            case BPF_MISC | BPF_TAX: x = a; break;
            case BPF_MISC | BPF_TXA: a = x; break;
            case BPF_ALU | BPF_AND | BPF_K: a &= f.k; break;
            case BPF_ALU | BPF_OR | BPF_K: a |= f.k; break;
            case BPF_JMP | BPF_JA: pc += f.k; break;
            case BPF_JMP | BPF_JEQ | BPF_K: case BPF_JMP | BPF_JEQ | BPF_X: jump(a == operand); break;
            case BPF_JMP | BPF_JGT | BPF_K: case BPF_JMP | BPF_JGT | BPF_X: jump(a > operand); break;
            case BPF_JMP | BPF_JGE | BPF_K: case BPF_JMP | BPF_JGE | BPF_X: jump(a >= operand); break;
            case BPF_JMP | BPF_JSET | BPF_K: case BPF_JMP | BPF_JSET | BPF_X: jump((a & operand) != 0); break;
            case BPF_RET | BPF_K: return f.k;
            case BPF_RET | BPF_A: return a;
            default: FAIL("unexpected BPF opcode " << f.code << " at " << pc);
        }
    }
    FAIL("the program ran off its end");
    return 0;
}

constexpr std::uint32_t allowed = SECCOMP_RET_ALLOW;
constexpr std::uint32_t eperm = SECCOMP_RET_ERRNO | EPERM;
constexpr std::uint32_t enosys = SECCOMP_RET_ERRNO | ENOSYS;

struct Call {
    const std::vector<sock_filter>& program;
    std::uint32_t arch = AUDIT_ARCH_X86_64;
    std::uint32_t operator()(int nr, std::uint64_t arg0 = 0, std::uint64_t arg1 = 0) const {
        seccomp_data data{};
        data.nr = nr;
        data.arch = arch;
        data.args[0] = arg0;
        data.args[1] = arg1;
        return run_filter(program, data);
    }
};

SeccompProfile profile(const std::string& json) { return parse_seccomp_profile(json, "test.json"); }

std::uint32_t ceiling_of(const std::vector<SyscallCeiling>& ceilings, std::uint32_t arch) {
    for (const auto& c : ceilings)
        if (c.arch == arch) return c.highest;
    return 0;
}

const CapMask sys_admin = CapMask{1} << CAP_SYS_ADMIN;

}  // namespace

TEST_CASE("the default seccomp profile compiles to one cached BPF program", "[runtime][seccomp]") {
    const auto& program = default_seccomp_program();
    CHECK(program.size() > 300);            // an allow-list of hundreds of syscalls
    CHECK(program.size() <= BPF_MAXINSNS);  // the kernel's limit
    CHECK(&default_seccomp_program() == &program);
}

#if defined(__x86_64__)
TEST_CASE("the default program decides like Docker's profile on x86_64", "[runtime][seccomp]") {
    Call call{default_seccomp_program()};
    CHECK(call(SYS_read) == allowed);
    CHECK(call(SYS_openat) == allowed);
    CHECK(call(SYS_personality, 0) == allowed);
    CHECK(call(SYS_personality, 0xffffffff) == allowed);
    CHECK(call(SYS_personality, ADDR_NO_RANDOMIZE) == eperm);
    CHECK(call(SYS_socket, AF_INET) == allowed);
    CHECK(call(SYS_socket, AF_VSOCK) == eperm);
    CHECK(call(SYS_socket, AF_ALG) == eperm);
    CHECK(call(SYS_socket, AF_NFC) == allowed);
    CHECK(call(SYS_clone, SIGCHLD) == allowed);
    CHECK(call(SYS_clone, CLONE_NEWUSER | SIGCHLD) == eperm);
    CHECK(call(SYS_clone3) == enosys);
    CHECK(call(SYS_unshare, CLONE_NEWUSER) == eperm);
    CHECK(call(SYS_mount) == eperm);
    CHECK(call(SYS_pidfd_getfd) == eperm);
    CHECK(call(SYS_process_madvise) == eperm);
    CHECK(call(SYS_set_mempolicy) == eperm);
    CHECK(call(SYS_arch_prctl) == allowed);
    // Newer than every syscall the profile names that libseccomp knows: ENOSYS.
    CHECK(call(458 /* listmount */) == enosys);
    CHECK(call(460) == enosys);
    CHECK(call(0x3fffffff) == enosys);

    Call i386{default_seccomp_program(), AUDIT_ARCH_I386};
    CHECK(i386(4 /* write */) == allowed);
    CHECK(i386(212 /* chown32 */) == allowed);
    CHECK(i386(136 /* personality */, ADDR_NO_RANDOMIZE) == eperm);
    CHECK(i386(384 /* arch_prctl: amd64 and x32 only */) == eperm);
    CHECK(i386(460) == enosys);

    Call x32{default_seccomp_program()};
    CHECK(x32(0x40000000 | 1 /* write */) == allowed);
    CHECK(x32(0x40000000 | 165 /* mount */) == eperm);
    CHECK(x32(0x40000000 | 600) == enosys);

    // An arch outside the filter is libseccomp's bad-arch action, not the stub's ENOSYS.
    Call arm{default_seccomp_program(), AUDIT_ARCH_AARCH64};
    CHECK(arm(1000) == SECCOMP_RET_KILL_THREAD);
}

TEST_CASE("capabilities decide which groups of the default profile apply", "[runtime][seccomp]") {
    auto admin = compile_seccomp(docker_default_seccomp_profile(), docker_default_capabilities() | sys_admin);
    Call call{admin};
    CHECK(call(SYS_clone, CLONE_NEWUSER | SIGCHLD) == allowed);
    CHECK(call(SYS_clone3) == allowed);
    CHECK(call(SYS_unshare, CLONE_NEWUSER) == allowed);
    CHECK(call(SYS_pidfd_getfd) == eperm);  // CAP_SYS_PTRACE's

    auto nothing = compile_seccomp(docker_default_seccomp_profile(), 0);
    CHECK(Call{nothing}(SYS_chroot) == eperm);  // CAP_SYS_CHROOT's
    CHECK(Call{default_seccomp_program()}(SYS_chroot) == allowed);
}

TEST_CASE("the ENOSYS stub's ceilings are the highest numbers the profile names", "[runtime][seccomp]") {
    auto small = profile(R"({"defaultAction":"SCMP_ACT_ERRNO",
        "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],
        "syscalls":[{"names":["read","write","no_such_call"],"action":"SCMP_ACT_ALLOW"},
                    {"names":["setns"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
                    {"names":["arch_prctl"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["x86"]}}]})");
    auto plain = seccomp_syscall_ceilings(small, 0);
    CHECK(ceiling_of(plain, SCMP_ARCH_X86_64) == 1);        // write
    CHECK(ceiling_of(plain, SCMP_ARCH_X86) == 384);         // arch_prctl, for x86 only
    CHECK(ceiling_of(plain, SCMP_ARCH_X32) == 0x40000001);  // write, with the x32 bit
    auto admin = seccomp_syscall_ceilings(small, sys_admin);
    CHECK(ceiling_of(admin, SCMP_ARCH_X86_64) == SYS_setns);

    auto program = compile_seccomp(small, 0);
    Call call{program};
    CHECK(call(SYS_write) == allowed);
    CHECK(call(SYS_close) == enosys);  // 3 > 1
    CHECK(call(SYS_setns) == enosys);

    // The default profile: clone3 (435) is named; listmount (458) is beyond this libseccomp.
    auto defaults = seccomp_syscall_ceilings(docker_default_seccomp_profile(), docker_default_capabilities());
    REQUIRE(defaults.size() == 3);
    std::uint32_t native = ceiling_of(defaults, SCMP_ARCH_X86_64);
    CHECK(native >= 435);
    CHECK(native < 458);
    // The newest calls in Docker's list; which of them libseccomp knows depends on its build.
    int newest_known = -1;
    for (const char* name : {"futex_waitv", "cachestat", "map_shadow_stack", "futex_wake", "futex_wait",
                             "futex_requeue", "statmount", "listmount", "mseal"})
        newest_known = std::max(newest_known, seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name));
    CHECK(native == static_cast<std::uint32_t>(newest_known));
}
#endif

TEST_CASE("custom profiles compile with their own actions and argument rules", "[runtime][seccomp]") {
    auto custom = profile(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
        {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS"},
        {"names":["socket"],"action":"SCMP_ACT_ERRNO",
         "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":16,"op":"SCMP_CMP_EQ"}]},
        {"names":["read"],"action":"SCMP_ACT_ALLOW"}]})");
    auto program = compile_seccomp(custom, docker_default_capabilities());
    Call call{program};
    CHECK(call(SYS_mkdirat) == (SECCOMP_RET_ERRNO | 13));
    CHECK(call(SYS_kill) == SECCOMP_RET_KILL_PROCESS);
    // Two conditions on one argument are alternatives.
    CHECK(call(SYS_socket, 1) == eperm);
    CHECK(call(SYS_socket, 16) == eperm);
    CHECK(call(SYS_socket, 2) == allowed);
    // A permissive default gets no ENOSYS stub: unknown numbers stay allowed.
    CHECK(call(460) == allowed);
}

TEST_CASE("a profile too large for the kernel is refused before any container starts", "[runtime][seccomp]") {
    std::string rules;
    for (int i = 0; i < 5000; ++i)
        rules += std::string(i ? "," : "") + R"({"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":)" +
                 std::to_string(i) + R"(,"op":"SCMP_CMP_EQ"}]})";
    auto huge = profile(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[)" + rules + "]}");
    CHECK_THROWS_WITH(compile_seccomp(huge, 0), Catch::Contains("more than the kernel's 4096"));
}
