#pragma once
// A pseudo-terminal for `docker run -t`. It is allocated on the host; its slave end
// becomes the container's stdin, stdout, stderr, controlling terminal and /dev/console,
// and kiln relays between the caller's stdio and the master end while the container runs.
#include <signal.h>
#include <termios.h>

#include <string>

#include "util/fd.hpp"

namespace kiln::runtime {

// Raw mode on a terminal for the lifetime of this object (no-op if fd is not one).
class RawMode {
public:
    explicit RawMode(int fd);
    ~RawMode();
    RawMode(const RawMode&) = delete;
    RawMode& operator=(const RawMode&) = delete;

private:
    int fd_;
    termios saved_{};
};

// Watches SIGWINCH while alive, restoring the previous handler afterwards: fd() becomes
// readable on each one (poll it, then drain()). One watch at a time owns the signal (a
// process has one terminal); another gets fd() -1.
class WinchWatch {
public:
    WinchWatch();
    ~WinchWatch();
    WinchWatch(const WinchWatch&) = delete;
    WinchWatch& operator=(const WinchWatch&) = delete;
    int fd() const { return owner_ ? read_.get() : -1; }
    void drain() const;

private:
    UniqueFd read_, write_;
    bool owner_ = false;
    struct sigaction saved_{};
};

class Pty {
public:
    // Opens a new pty pair; if size_from is a terminal, the pty gets its window size.
    explicit Pty(int size_from);
    int master() const { return master_.get(); }
    int slave() const { return slave_.get(); }
    const std::string& slave_path() const { return slave_path_; }
    // The parent's copy must go once the container has it, so the master sees EOF/EIO
    // when the container's last holder exits.
    void close_slave() { slave_.reset(); }

private:
    UniqueFd master_, slave_;
    std::string slave_path_;
};

// Copies in_fd (-1: none) to the master and the master to out_fd until the container side
// is closed (all its processes gone). A terminal in_fd is put in raw mode meanwhile, so
// keys like ^C reach the container's line discipline; it is restored before returning.
void relay_pty(const Pty& pty, int in_fd, int out_fd);

}  // namespace kiln::runtime
