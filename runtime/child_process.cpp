#include "runtime/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.hpp"

namespace kiln::runtime {

ChildProcess::~ChildProcess() {
    if (reaped_) return;
    // Killing pid 1 of a namespace kills every process in it.
    if (pidfd_)
        ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    else
        ::kill(pid_, SIGKILL);
    wait();
}

int ChildProcess::wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
}

Pipe make_report_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
    for (UniqueFd* end : {&p.read, &p.write}) {
        if (end->get() > 2) continue;
        UniqueFd high(::fcntl(end->get(), F_DUPFD_CLOEXEC, 3));
        if (!high) throw_errno("dup pipe");
        *end = std::move(high);
    }
    return p;
}

std::optional<ChildReport> read_child_report(int read_fd) {
    ChildReport report;
    ssize_t got;
    do {
        got = ::read(read_fd, &report, sizeof report);
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(sizeof report)) return std::nullopt;
    report.text[sizeof report.text - 1] = '\0';
    return report;
}

int docker_exit_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

void write_message(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace kiln::runtime
