#pragma once
// kiln-monitor's side of `kiln attach` (attach_protocol.hpp has the wire and where the
// socket lives). Any number of clients: each gets the container's output from the moment
// it connects, may write its stdin (when the container has one, docker run -i), resize its
// pty and proxy signals, and gets the exit code when the container ends. A client that
// stops reading is dropped rather than allowed to stall the container or its log.
#include <poll.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/monitor/attach_protocol.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

struct AttachTarget {
    int stdin_fd = -1;   // the container's input: its stdin pipe or pty master (-1: no -i)
    int pty_master = -1; // for window sizes (-1: no -t)
    bool stdin_once = false;  // Docker's StdinOnce: a client's end of input closes the container's stdin
    int pidfd = -1;      // for proxied signals
};

class AttachServer {
public:
    // Serves the clients of listener (kiln bound it in container_dir/attach; -1: the
    // container is not attachable), taking any that connected before the container ran.
    AttachServer(int listener, const std::string& container_dir, AttachTarget target);
    ~AttachServer();
    AttachServer(const AttachServer&) = delete;
    AttachServer& operator=(const AttachServer&) = delete;

    // Appends what to poll for; handle() takes the same entries back, from index first.
    void add_poll_entries(std::vector<pollfd>& fds) const;
    void handle(const std::vector<pollfd>& fds, std::size_t first);
    // The container wrote this (stdout, or stderr without -t).
    void broadcast(attach::Frame stream, std::string_view data);
    // The container has exited: every client, also one still queued, gets its code; the
    // socket is gone afterwards, so a later attach finds the container stopped.
    void finish(int exit_code);

private:
    struct Client {
        UniqueFd fd;
        attach::FrameReader in;
        std::string out;  // not yet written
    };
    void accept_clients();
    void on_frame(attach::Frame type, const std::string& payload);
    bool flush(Client& c);  // false: the client is gone
    void close_stdin();
    void remove_socket();

    UniqueFd dir_, listener_;
    AttachTarget target_;
    std::vector<Client> clients_;
    std::string pending_stdin_;  // read from clients, not yet taken by the container
    bool closing_stdin_ = false;
};

}  // namespace kiln::runtime
