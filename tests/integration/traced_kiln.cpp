#include "traced_kiln.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string pid_namespace_of(pid_t pid) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec);
    return ec ? std::string() : target.string();
}

// The name under a "/kiln/" directory in any of the process's cgroup paths.
std::string kiln_cgroup_of(pid_t pid) {
    std::string text;
    try {
        text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
    } catch (const Error&) {
        return {};
    }
    auto at = text.find("/kiln/");
    if (at == std::string::npos) return {};
    at += 6;
    return text.substr(at, text.find_first_of("/\n", at) - at);
}

pid_t start_traced(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) throw_errno("open /dev/null");
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {  // async-signal-safe calls only: the test process may have threads
        ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
        for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(null);
    return pid;
}

// Resumes a tracee from a stop that is not the held child's, passing on a real signal.
void resume(pid_t pid, int status) {
    const int sig = WSTOPSIG(status);
    const bool event = (status >> 16) != 0;
    const bool hidden = event || sig == (SIGTRAP | 0x80) || sig == SIGSTOP;
    ::ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(hidden ? 0 : sig)));
}

}  // namespace

HeldChild kill_kiln_while_holding_child(const std::vector<std::string>& argv, HoldPoint point) {
    const std::string own_namespace = pid_namespace_of(::getpid());
    const pid_t kiln = start_traced(argv);
    int status = 0;
    if (::waitpid(kiln, &status, 0) != kiln || !WIFSTOPPED(status)) FAIL("kiln did not stop at its exec under ptrace");
    const long options = PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |
                         PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
    REQUIRE(::ptrace(PTRACE_SETOPTIONS, kiln, nullptr, reinterpret_cast<void*>(options)) == 0);
    REQUIRE(::ptrace(PTRACE_CONT, kiln, nullptr, nullptr) == 0);

    std::set<pid_t> seen{kiln};
    HeldChild held;
    bool holding = false, kiln_gone = false;
    unsigned long long last_entry = 0;  // the held process's syscall being traced
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!(holding && kiln_gone)) {
        if (Clock::now() > deadline) {
            ::kill(kiln, SIGKILL);
            if (held.pid > 0) ::kill(held.pid, SIGKILL);
            FAIL("kiln started no process in another pid namespace within 20 s");
        }
        pid_t pid = ::waitpid(-1, &status, __WALL | WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        if (pid < 0) FAIL("waitpid: " << std::strerror(errno));
        if (!WIFSTOPPED(status)) {
            if (pid == kiln) {
                if (!holding) FAIL("kiln ended (status " << status << ") before it started a container process");
                kiln_gone = true;
            }
            if (pid == held.pid) FAIL("the held process ended while it was held");
            continue;
        }
        if (pid == held.pid && !holding) {
            // Syscall stops alternate entry and exit; the exit of setresuid is the hold point.
            __ptrace_syscall_info info{};
            if (WSTOPSIG(status) == (SIGTRAP | 0x80) &&
                ::ptrace(PTRACE_GET_SYSCALL_INFO, pid, reinterpret_cast<void*>(sizeof info), &info) > 0) {
                if (info.op == PTRACE_SYSCALL_INFO_ENTRY) last_entry = info.entry.nr;
                if (info.op == PTRACE_SYSCALL_INFO_EXIT && last_entry == SYS_setresuid) {
                    holding = true;
                    ::kill(kiln, SIGKILL);
                    continue;
                }
                ::ptrace(PTRACE_SYSCALL, pid, nullptr, nullptr);
            } else {
                const int sig = WSTOPSIG(status) == SIGSTOP ? 0 : WSTOPSIG(status);
                ::ptrace(PTRACE_SYSCALL, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
            }
            continue;
        }
        const bool new_tracee = seen.insert(pid).second;
        if (new_tracee && held.pid < 0 && pid_namespace_of(pid) != own_namespace) {
            held.pid = pid;
            held.cgroup_id = kiln_cgroup_of(pid);
            if (point == HoldPoint::first_instruction) {
                holding = true;
                ::kill(kiln, SIGKILL);
            } else {
                ::ptrace(PTRACE_SYSCALL, pid, nullptr, nullptr);
            }
            continue;
        }
        resume(pid, status);
    }
    // Everything of kiln's is dead; the held process goes on, untraced, from where it was.
    REQUIRE(::ptrace(PTRACE_DETACH, held.pid, nullptr, nullptr) == 0);
    return held;
}

}  // namespace kiln::test
