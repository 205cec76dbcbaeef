#include "runtime/stdio_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

constexpr std::size_t chunk = 65536;

// An fd number above 2, so the container's ends never collide with the stdio it builds on
// 0..2 from them.
UniqueFd above_stdio(UniqueFd fd) {
    if (fd.get() > 2) return fd;
    UniqueFd high(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!high) throw_errno("dup stdio pipe");
    return high;
}

// Writing into a pipe whose reader is gone raises SIGPIPE, which would kill kiln (and so
// the container). Blocked in this thread while relaying; a pending one is consumed before
// the mask is restored, so it is never delivered late.
class SigpipeBlock {
public:
    SigpipeBlock() {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe_only, &saved_);
    }
    ~SigpipeBlock() {
        sigset_t pipe_only;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        timespec zero{};
        while (::sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
        }
        ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
    }
    SigpipeBlock(const SigpipeBlock&) = delete;
    SigpipeBlock& operator=(const SigpipeBlock&) = delete;

private:
    sigset_t saved_;
};

// Writes all of data to a caller's fd, waiting where it is non-blocking. False once its
// reader is gone (or it fails): the stream is then closed.
bool write_out(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, -1);
            continue;
        }
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// One output stream: the container's pipe → a caller's fd.
struct OutputStream {
    UniqueFd* source;
    int destination;
};

}  // namespace

StdioPipes::StdioPipes(bool with_stdin) {
    auto make = [](Pipe& p) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
        p.read = above_stdio(UniqueFd(fds[0]));
        p.write = above_stdio(UniqueFd(fds[1]));
    };
    if (with_stdin) {
        make(stdin_);
        // kiln's end only: it must never block the loop that also drains the output.
        ::fcntl(stdin_.write.get(), F_SETFL, O_NONBLOCK);
    }
    make(stdout_);
    make(stderr_);
}

void StdioPipes::close_container_ends() {
    stdin_.read.reset();
    stdout_.write.reset();
    stderr_.write.reset();
}

void StdioPipes::relay(int in_fd, int out_fd, int err_fd) {
    SigpipeBlock no_sigpipe;
    OutputStream outputs[2] = {{&stdout_.read, out_fd}, {&stderr_.read, err_fd}};
    bool input_open = in_fd >= 0 && stdin_.write;
    if (!input_open) stdin_.write.reset();  // the container reads EOF at once
    std::string pending;                    // read from in_fd, not yet taken by the container
    char buf[chunk];
    while (*outputs[0].source || *outputs[1].source) {
        pollfd fds[3] = {
            {outputs[0].source->get(), POLLIN, 0},
            {outputs[1].source->get(), POLLIN, 0},
            // The caller's stdin is read only once the container has taken what came before.
            {-1, 0, 0},
        };
        if (stdin_.write) {
            fds[2] = pending.empty() && input_open ? pollfd{in_fd, POLLIN, 0}
                                                   : pollfd{stdin_.write.get(), POLLOUT, 0};
        }
        if (::poll(fds, 3, -1) < 0) {  // poll skips entries whose fd is -1
            if (errno == EINTR) continue;
            throw_errno("poll container stdio");
        }
        for (int i = 0; i < 2; ++i) {
            if (!fds[i].revents) continue;
            UniqueFd& source = *outputs[i].source;
            ssize_t n = ::read(source.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            // EOF: every process of the container has closed this stream.
            if (n <= 0 || !write_out(outputs[i].destination, buf, static_cast<std::size_t>(n))) source.reset();
        }
        if (!fds[2].revents) continue;
        if (fds[2].fd == in_fd) {
            ssize_t n = ::read(in_fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                input_open = false;
                stdin_.write.reset();  // EOF for the container
            } else {
                pending.assign(buf, static_cast<std::size_t>(n));
            }
            continue;
        }
        ssize_t n = ::write(stdin_.write.get(), pending.data(), pending.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {  // the container closed its stdin: what remains goes nowhere
            pending.clear();
            input_open = false;
            stdin_.write.reset();
            continue;
        }
        pending.erase(0, static_cast<std::size_t>(n));
        if (pending.empty() && !input_open) stdin_.write.reset();
    }
}

}  // namespace kiln::runtime
