#pragma once
// A pseudo-terminal for `docker run -t`. It is allocated on the host; its slave end
// becomes the container's stdin, stdout, stderr, controlling terminal and /dev/console,
// and kiln relays between the caller's stdio and the master end while the container runs.
#include <string>

#include "util/fd.hpp"

namespace kiln::runtime {

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
