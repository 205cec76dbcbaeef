#include "runtime/tty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

// SIGWINCH becomes a byte on this pipe, so the relay's poll loop can copy the new window
// size to the pty. One relay at a time owns it (a process has one terminal).
std::atomic<int> winch_pipe{-1};

void on_winch(int) {
    int saved = errno;
    int fd = winch_pipe.load();
    if (fd >= 0) [[maybe_unused]] ssize_t n = ::write(fd, "w", 1);
    errno = saved;
}

void copy_window_size(int from, int to) {
    winsize size{};
    if (from >= 0 && ::ioctl(from, TIOCGWINSZ, &size) == 0) ::ioctl(to, TIOCSWINSZ, &size);
}

// Writes everything; false if the reader is gone.
bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

RawMode::RawMode(int fd) : fd_(fd) {
    if (fd_ < 0 || ::tcgetattr(fd_, &saved_) != 0) {
        fd_ = -1;  // not a terminal: nothing to change
        return;
    }
    termios raw = saved_;
    ::cfmakeraw(&raw);
    ::tcsetattr(fd_, TCSANOW, &raw);
}

RawMode::~RawMode() {
    if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
}

WinchWatch::WinchWatch() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return;
    read_.reset(fds[0]);
    write_.reset(fds[1]);
    int expected = -1;
    if (!winch_pipe.compare_exchange_strong(expected, write_.get())) return;
    owner_ = true;
    struct sigaction sa{};
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGWINCH, &sa, &saved_);
}

WinchWatch::~WinchWatch() {
    if (!owner_) return;
    ::sigaction(SIGWINCH, &saved_, nullptr);
    winch_pipe.store(-1);
}

void WinchWatch::drain() const {
    char buf[64];
    while (read_ && ::read(read_.get(), buf, sizeof buf) > 0) {
    }
}

Pty::Pty(int size_from) {
    master_.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master_) throw_errno("open pseudo-terminal");
    if (::grantpt(master_.get()) != 0 || ::unlockpt(master_.get()) != 0) throw_errno("unlock pseudo-terminal");
    char name[128];
    if (::ptsname_r(master_.get(), name, sizeof name) != 0) throw_errno("ptsname");
    slave_path_ = name;
    slave_.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave_) throw_errno("open " + slave_path_);
    copy_window_size(size_from, master_.get());
}

void relay_pty(const Pty& pty, int in_fd, int out_fd) {
    RawMode raw(in_fd);
    WinchWatch winch;
    bool input_open = in_fd >= 0;
    char buf[16384];
    for (;;) {
        pollfd fds[3] = {{pty.master(), POLLIN, 0}, {winch.fd(), POLLIN, 0}, {input_open ? in_fd : -1, POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0) {  // poll ignores entries with fd -1
            if (errno == EINTR) continue;
            throw_errno("poll pseudo-terminal");
        }
        if (fds[0].revents) {
            ssize_t n = ::read(pty.master(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            // EIO: every slave holder (the whole container) is gone.
            if (n <= 0) return;
            write_all(out_fd, buf, static_cast<std::size_t>(n));
        }
        if (fds[1].revents) {
            winch.drain();
            copy_window_size(in_fd, pty.master());
        }
        if (fds[2].revents) {
            ssize_t n = ::read(in_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0 || !write_all(pty.master(), buf, static_cast<std::size_t>(n))) input_open = false;
        }
    }
}

}  // namespace kiln::runtime
