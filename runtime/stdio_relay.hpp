#pragma once
// The container's stdio without -t: pipes that kiln relays, so the container never holds
// one of the caller's files or terminals. Handing those over lets a container chmod,
// chown or truncate the caller's `>> host.log` through /proc/1/fd/1, or push keystrokes
// into the operator's shell with TIOCSTI. (With -t the container gets a pty of its own,
// see tty.hpp.)
#include "util/fd.hpp"

namespace kiln::runtime {

class StdioPipes {
public:
    // with_stdin: also a pipe for the container's stdin (docker run -i); without it the
    // container opens its own /dev/null.
    explicit StdioPipes(bool with_stdin);

    // The container's ends (-1 for stdin without with_stdin); above 2, close-on-exec.
    int container_stdin() const { return stdin_.read.get(); }
    int container_stdout() const { return stdout_.write.get(); }
    int container_stderr() const { return stderr_.write.get(); }
    // Once the container has its copies: the relay must see EOF when the container's
    // last process closes them.
    void close_container_ends();
    // kiln's ends of the container's output, for a monitor that takes them over.
    int stdout_reader() const { return stdout_.read.get(); }
    int stderr_reader() const { return stderr_.read.get(); }
    // kiln's end of the container's stdin (-1 without with_stdin), non-blocking.
    int stdin_writer() const { return stdin_.write.get(); }

    // Copies in_fd (-1: none) into the container's stdin and the container's output to
    // out_fd and err_fd until the container has closed its stdout and stderr. The caller's
    // descriptors are never made non-blocking (their file descriptions may be shared). A
    // destination that is gone (EPIPE) closes that stream, as a pipeline would.
    void relay(int in_fd, int out_fd, int err_fd);

private:
    struct Pipe {
        UniqueFd read, write;
    };
    Pipe stdin_, stdout_, stderr_;
};

}  // namespace kiln::runtime
