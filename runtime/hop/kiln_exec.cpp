// kiln-exec: the last hop of every container process (runc's answer to CVE-2019-5736).
// kiln's setup child is kiln's own binary until it execs, and an execve inside the
// container can run whatever binary does it (an image whose /bin/sh is
// "#!/proc/self/exe"): that would be kiln's, dumpable and in the container's reach, whose
// /proc/PID/exe a container process can hold and reopen for writing. So the setup child
// execs this program instead, from a sealed memfd (exec_hop.hpp), and this program execs
// the container's command; its own /proc/self/exe is that memfd, which nobody can write.
//
//   kiln-exec REPORT_FD COMMAND [ARG...]      (environment: the container's)
//
// On failure it sends kiln the setup report (child_report.hpp) on REPORT_FD and exits
// 126 or 127, exactly as the setup child would have.
//
// Freestanding: no libc, its own entry point and four system calls. Every container start
// and exec copies this program into a memfd and runs it, and glibc's static start-up made
// that 680 KiB and ~0.5 ms; this is a few KiB. Nothing here may need a runtime: no
// globals with constructors, no thread-local storage, no exceptions.
#include <fcntl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>

#include "runtime/child_report.hpp"
#include "runtime/exec_command.hpp"

namespace {

long sys(long number, long a = 0, long b = 0, long c = 0) {
    long ret;
    asm volatile("syscall" : "=a"(ret) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

int sys_execve(const char* file, char* const argv[], char* const envp[]) {
    long ret = sys(SYS_execve, reinterpret_cast<long>(file), reinterpret_cast<long>(argv), reinterpret_cast<long>(envp));
    return static_cast<int>(-ret);
}

[[noreturn]] void exit_group(int code) {
    for (;;) sys(SYS_exit_group, code);
}

// A non-negative decimal, or -1.
int parse_fd(const char* s) {
    if (!*s) return -1;
    int value = 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9' || value > 100000000) return -1;
        value = value * 10 + (*s - '0');
    }
    return value;
}

const char* env_value(char* const envp[], const char* name) {
    for (; *envp; ++envp) {
        const char* entry = *envp;
        const char* n = name;
        while (*n && *entry == *n) ++entry, ++n;
        if (!*n && *entry == '=') return entry + 1;
    }
    return nullptr;
}

int hop_main(int argc, char** argv, char** envp) {
    if (argc < 3) return 125;
    const int report_fd = parse_fd(argv[1]);
    if (report_fd < 0) return 125;
    // The command starts with stdio only.
    if (sys(SYS_fcntl, report_fd, F_SETFD, FD_CLOEXEC) != 0) return 125;
    kiln::runtime::ChildReport report;
    kiln::runtime::exec_command(argv + 2, envp, env_value(envp, "PATH"), report, sys_execve);
    const char* bytes = reinterpret_cast<const char*>(&report);
    for (std::size_t done = 0; done < sizeof report;) {
        long n = sys(SYS_write, report_fd, reinterpret_cast<long>(bytes + done), static_cast<long>(sizeof report - done));
        if (n == -EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    return report.exit_code;
}

}  // namespace

// The compiler may turn loops and aggregate copies into calls to these.
extern "C" void* memset(void* dest, int c, std::size_t n) {
    void* d = dest;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dest;
}

extern "C" void* memcpy(void* dest, const void* src, std::size_t n) {
    void* d = dest;
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dest;
}

// The kernel starts the program with the stack pointer at argc, then argv[] and envp[],
// each ending in a null pointer.
extern "C" [[noreturn]] void hop_start(long* stack) {
    const int argc = static_cast<int>(stack[0]);
    char** argv = reinterpret_cast<char**>(stack + 1);
    exit_group(hop_main(argc, argv, argv + argc + 1));
}

asm(R"(
    .text
    .globl _start
    .type _start, @function
_start:
    xor %ebp, %ebp
    mov %rsp, %rdi
    and $-16, %rsp
    call hop_start
    hlt
)");
