#pragma once
// The parent side of a setup child (container.cpp's init, exec.cpp's joiner): owning the
// process, the close-on-exec pipe its setup report comes through, and Docker's exit status.
#include <sys/types.h>

#include <optional>
#include <string_view>

#include "runtime/child_report.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

// Owns a child process: kills and reaps it if the parent gives up early.
class ChildProcess {
public:
    ChildProcess(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }

    // Waits for exit; returns the wait status.
    int wait();

private:
    pid_t pid_;
    UniqueFd pidfd_;
    bool reaped_ = false;
};

struct Pipe {
    UniqueFd read, write;
};

// A CLOEXEC pipe whose ends are above 2, so they never collide with the stdio the child
// builds on 0..2. EOF without a report means execve succeeded.
Pipe make_report_pipe();

// The child's report, once every copy of the write end is closed; nullopt if none came.
std::optional<ChildReport> read_child_report(int read_fd);

// Docker's status from a wait status: the exit code, or 128+N when killed by signal N.
int docker_exit_status(int wait_status);

// Writes all of text, giving up quietly if fd is gone (the caller's stderr).
void write_message(int fd, std::string_view text);

}  // namespace kiln::runtime
