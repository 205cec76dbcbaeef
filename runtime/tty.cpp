#include "runtime/tty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

// Raw mode on a terminal for the lifetime of this object.
class RawMode {
public:
    explicit RawMode(int fd) : fd_(fd) {
        if (fd_ < 0 || ::tcgetattr(fd_, &saved_) != 0) {
            fd_ = -1;  // not a terminal: nothing to change
            return;
        }
        termios raw = saved_;
        ::cfmakeraw(&raw);
        ::tcsetattr(fd_, TCSANOW, &raw);
    }
    ~RawMode() {
        if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
    }
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;

private:
    int fd_;
    termios saved_{};
};

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

Pty::Pty(int size_from) {
    master_.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master_) throw_errno("open pseudo-terminal");
    if (::grantpt(master_.get()) != 0 || ::unlockpt(master_.get()) != 0) throw_errno("unlock pseudo-terminal");
    char name[128];
    if (::ptsname_r(master_.get(), name, sizeof name) != 0) throw_errno("ptsname");
    slave_path_ = name;
    slave_.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave_) throw_errno("open " + slave_path_);
    winsize size{};
    if (size_from >= 0 && ::ioctl(size_from, TIOCGWINSZ, &size) == 0) ::ioctl(master_.get(), TIOCSWINSZ, &size);
}

void relay_pty(const Pty& pty, int in_fd, int out_fd) {
    RawMode raw(in_fd);
    bool input_open = in_fd >= 0;
    char buf[16384];
    for (;;) {
        pollfd fds[2] = {{pty.master(), POLLIN, 0}, {in_fd, POLLIN, 0}};
        if (::poll(fds, input_open ? 2 : 1, -1) < 0) {
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
        if (input_open && fds[1].revents) {
            ssize_t n = ::read(in_fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0 || !write_all(pty.master(), buf, static_cast<std::size_t>(n))) input_open = false;
        }
    }
}

}  // namespace kiln::runtime
