#include "runtime/monitor/attach_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace kiln::runtime {

namespace {

// Output a client has not read yet beyond this drops it: the log keeps everything.
constexpr std::size_t max_client_backlog = 4 << 20;
// Input the container has not read yet beyond this stops reading clients for a while.
constexpr std::size_t max_pending_stdin = 1 << 20;

long long monotonic_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

AttachServer::AttachServer(int listener, const std::string& container_dir, AttachTarget target)
    : listener_(listener), target_(target) {
    if (!listener_) return;
    ::fcntl(listener_.get(), F_SETFD, FD_CLOEXEC);
    ::fcntl(listener_.get(), F_SETFL, ::fcntl(listener_.get(), F_GETFL) | O_NONBLOCK);
    dir_.reset(::open((container_dir + "/" + attach::socket_dir).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (target_.stdin_fd >= 0) ::fcntl(target_.stdin_fd, F_SETFL, ::fcntl(target_.stdin_fd, F_GETFL) | O_NONBLOCK);
    // `kiln start -a` connected before the container started: it sees all of its output.
    accept_clients();
}

AttachServer::~AttachServer() { remove_socket(); }

void AttachServer::remove_socket() {
    if (listener_ && dir_) ::unlinkat(dir_.get(), attach::socket_name, 0);
    listener_.reset();
}

void AttachServer::add_poll_entries(std::vector<pollfd>& fds) const {
    fds.push_back({listener_ ? listener_.get() : -1, POLLIN, 0});
    fds.push_back({pending_stdin_.empty() ? -1 : target_.stdin_fd, POLLOUT, 0});
    const bool take_input = pending_stdin_.size() < max_pending_stdin;
    for (const auto& c : clients_) {
        short events = take_input ? POLLIN : 0;
        if (!c.out.empty()) events |= POLLOUT;
        fds.push_back({c.fd.get(), events, 0});
    }
}

void AttachServer::handle(const std::vector<pollfd>& fds, std::size_t first) {
    if (fds[first + 1].revents && target_.stdin_fd >= 0) {
        ssize_t n = ::write(target_.stdin_fd, pending_stdin_.data(), pending_stdin_.size());
        if (n > 0) {
            pending_stdin_.erase(0, static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
            pending_stdin_.clear();  // the container closed its stdin
        }
        if (pending_stdin_.empty() && closing_stdin_) close_stdin();
    }
    static char buf[65536];
    for (std::size_t i = 0; i < clients_.size(); ++i) {
        const short revents = fds[first + 2 + i].revents;
        Client& c = clients_[i];
        bool gone = false;
        if (revents & POLLOUT) gone = !flush(c);
        if (!gone && (revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                gone = true;
            } else if (n > 0) {
                c.in.feed(std::string_view(buf, static_cast<std::size_t>(n)));
                while (auto frame = c.in.next()) on_frame(frame->first, frame->second);
                gone = c.in.broken();
            }
        }
        if (gone) c.fd.reset();
    }
    std::erase_if(clients_, [](const Client& c) { return !c.fd; });
    if (fds[first].revents) accept_clients();
}

void AttachServer::accept_clients() {
    while (listener_) {
        int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        clients_.push_back(Client{UniqueFd(fd), {}, {}});
    }
}

void AttachServer::on_frame(attach::Frame type, const std::string& payload) {
    switch (type) {
        case attach::Frame::stdin_data:
            if (target_.stdin_fd >= 0 && !closing_stdin_) pending_stdin_ += payload;
            break;
        case attach::Frame::stdin_close:
            if (target_.stdin_once && target_.pty_master < 0) close_stdin();
            break;
        case attach::Frame::window: {
            if (target_.pty_master < 0) break;
            char* end = nullptr;
            long rows = std::strtol(payload.c_str(), &end, 10);
            long cols = std::strtol(end, nullptr, 10);
            if (rows <= 0 || cols <= 0 || rows > 0xffff || cols > 0xffff) break;
            winsize size{};
            size.ws_row = static_cast<unsigned short>(rows);
            size.ws_col = static_cast<unsigned short>(cols);
            ::ioctl(target_.pty_master, TIOCSWINSZ, &size);
            break;
        }
        case attach::Frame::signal: {
            int sig = std::atoi(payload.c_str());
            // Never SIGKILL/SIGSTOP by proxy: docker's proxy does not forward those either.
            if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || target_.pidfd < 0) break;
            ::syscall(SYS_pidfd_send_signal, target_.pidfd, sig, nullptr, 0);
            break;
        }
        default:
            break;  // a frame only the monitor sends, or an unknown one: ignored
    }
}

void AttachServer::close_stdin() {
    // What the container has not taken yet goes first (handle() closes it then).
    closing_stdin_ = true;
    if (!pending_stdin_.empty() || target_.stdin_fd < 0) return;
    ::close(target_.stdin_fd);
    target_.stdin_fd = -1;
}

bool AttachServer::flush(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) return false;
        c.out.erase(0, static_cast<std::size_t>(n));
    }
    return c.out.size() <= max_client_backlog;
}

void AttachServer::broadcast(attach::Frame stream, std::string_view data) {
    for (auto& c : clients_) {
        attach::append_frame(c.out, stream, data);
        if (!flush(c)) c.fd.reset();
    }
    std::erase_if(clients_, [](const Client& c) { return !c.fd; });
}

void AttachServer::finish(int exit_code) {
    accept_clients();
    remove_socket();
    const std::string code = std::to_string(exit_code);
    for (auto& c : clients_) attach::append_frame(c.out, attach::Frame::exited, code);
    // A client gets a little while to take the rest; the monitor must end either way.
    const long long deadline = monotonic_ms() + 2000;
    for (;;) {
        std::vector<pollfd> fds;
        for (auto& c : clients_) {
            if (!c.out.empty() && !flush(c)) c.fd.reset();
            if (c.fd && !c.out.empty()) fds.push_back({c.fd.get(), POLLOUT, 0});
        }
        const long long left = deadline - monotonic_ms();
        if (fds.empty() || left <= 0) break;
        ::poll(fds.data(), fds.size(), static_cast<int>(left));
    }
    clients_.clear();
}

}  // namespace kiln::runtime
