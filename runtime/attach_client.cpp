#include "runtime/attach_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "runtime/detach_keys.hpp"
#include "runtime/monitor/attach_protocol.hpp"
#include "runtime/tty.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

namespace {

// Writes all of data; false once the peer is gone.
bool write_fully(int fd, std::string_view data, bool socket) {
    while (!data.empty()) {
        ssize_t n = socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) : ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool send_frame(int fd, attach::Frame type, std::string_view payload) {
    std::string frame;
    attach::append_frame(frame, type, payload);
    return write_fully(fd, frame, true);
}

// The signals --sig-proxy hands on, as bytes on a pipe the client polls.
std::atomic<int> signal_pipe{-1};

void on_proxied_signal(int sig) {
    int saved = errno;
    unsigned char byte = static_cast<unsigned char>(sig);
    int fd = signal_pipe.load();
    if (fd >= 0) [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
    errno = saved;
}

constexpr int proxied_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// Catches proxied_signals while alive; restores their handlers afterwards.
class SignalProxy {
public:
    explicit SignalProxy(bool enabled) {
        if (!enabled) return;
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2");
        read_.reset(fds[0]);
        write_.reset(fds[1]);
        signal_pipe.store(write_.get());
        struct sigaction sa{};
        sa.sa_handler = on_proxied_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        for (std::size_t i = 0; i < std::size(proxied_signals); ++i) ::sigaction(proxied_signals[i], &sa, &saved_[i]);
    }
    ~SignalProxy() {
        if (!read_) return;
        for (std::size_t i = 0; i < std::size(proxied_signals); ++i) ::sigaction(proxied_signals[i], &saved_[i], nullptr);
        signal_pipe.store(-1);
    }
    SignalProxy(const SignalProxy&) = delete;
    SignalProxy& operator=(const SignalProxy&) = delete;
    int fd() const { return read_.get(); }

private:
    UniqueFd read_, write_;
    struct sigaction saved_[std::size(proxied_signals)]{};
};

// Ignores SIGPIPE while alive (a closed stdout ends output, never the client).
class SigpipeIgnored {
public:
    SigpipeIgnored() {
        struct sigaction sa{};
        sa.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &sa, &saved_);
    }
    ~SigpipeIgnored() { ::sigaction(SIGPIPE, &saved_, nullptr); }
    SigpipeIgnored(const SigpipeIgnored&) = delete;
    SigpipeIgnored& operator=(const SigpipeIgnored&) = delete;

private:
    struct sigaction saved_{};
};

void send_window_size(int socket, const AttachOptions& o) {
    winsize size{};
    if (::ioctl(o.in_fd, TIOCGWINSZ, &size) != 0 && ::ioctl(o.out_fd, TIOCGWINSZ, &size) != 0) return;
    if (size.ws_row == 0 || size.ws_col == 0) return;
    send_frame(socket, attach::Frame::window, std::to_string(size.ws_row) + " " + std::to_string(size.ws_col));
}

}  // namespace

AttachResult attach_to_monitor(UniqueFd connection, const AttachOptions& o) {
    SigpipeIgnored no_sigpipe;
    std::optional<RawMode> raw;
    if (o.tty && o.send_stdin) raw.emplace(o.in_fd);
    std::optional<WinchWatch> winch;
    if (o.tty) {
        winch.emplace();
        send_window_size(connection.get(), o);
    }
    SignalProxy signals(o.sig_proxy && !o.tty);
    DetachKeyMatcher detach(o.detach_keys);
    attach::FrameReader frames;
    AttachResult result;
    bool input_open = o.send_stdin;
    bool output_open = true;
    char buf[65536];
    for (;;) {
        pollfd fds[4] = {{connection.get(), POLLIN, 0},
                         {input_open ? o.in_fd : -1, POLLIN, 0},
                         {winch ? winch->fd() : -1, POLLIN, 0},
                         {signals.fd(), POLLIN, 0}};
        if (::poll(fds, 4, -1) < 0) {  // poll skips entries whose fd is -1
            if (errno == EINTR) continue;
            throw_errno("poll the attach connection");
        }
        if (fds[0].revents) {
            ssize_t n = ::read(connection.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return result;  // the monitor went away without the exit code
            frames.feed(std::string_view(buf, static_cast<std::size_t>(n)));
            while (auto frame = frames.next()) {
                auto& [type, payload] = *frame;
                if (type == attach::Frame::stdout_data && output_open) {
                    output_open = write_fully(o.out_fd, payload, false);
                } else if (type == attach::Frame::stderr_data && output_open) {
                    write_fully(o.err_fd, payload, false);
                } else if (type == attach::Frame::exited) {
                    result.exit_known = true;
                    result.exit_code = std::atoi(payload.c_str());
                    return result;
                }
            }
            if (frames.broken()) throw Error("the container's monitor sent a malformed frame");
        }
        if (fds[1].revents) {
            ssize_t n = ::read(o.in_fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                input_open = false;
                send_frame(connection.get(), attach::Frame::stdin_close, "");
            } else {
                bool detached = false;
                std::string pass = detach.feed(std::string_view(buf, static_cast<std::size_t>(n)), detached);
                if (!pass.empty()) send_frame(connection.get(), attach::Frame::stdin_data, pass);
                if (detached) {
                    result.detached = true;
                    return result;
                }
            }
        }
        if (fds[2].revents) {
            winch->drain();
            send_window_size(connection.get(), o);
        }
        if (fds[3].revents) {
            unsigned char sig = 0;
            while (::read(signals.fd(), &sig, 1) == 1) send_frame(connection.get(), attach::Frame::signal, std::to_string(sig));
        }
    }
}

}  // namespace kiln::runtime
