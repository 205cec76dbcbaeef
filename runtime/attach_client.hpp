#pragma once
// `kiln attach` / `kiln start -a`: the client end of a detached container's monitor
// (runtime/monitor/attach_server.hpp). Streams the container's output to the caller's
// stdout/stderr, its own stdin to the container, the terminal's size to the pty, and
// (without a tty, with --sig-proxy) the signals it receives to the container.
#include <string>

#include "util/fd.hpp"

namespace kiln::runtime {

struct AttachOptions {
    bool tty = false;         // the container runs on a pty: the local terminal goes raw
    bool send_stdin = false;  // the container has -i and the client did not say --no-stdin
    bool sig_proxy = true;    // only without tty, as docker's
    std::string detach_keys;  // parse_detach_keys() bytes; empty: no detaching
    int in_fd = 0, out_fd = 1, err_fd = 2;
};

struct AttachResult {
    bool detached = false;   // the detach keys were typed: the container still runs
    bool exit_known = false; // the monitor sent the exit code (else it went away first)
    int exit_code = 0;
};

// Runs until the container ends or the client detaches. connection: from
// connect_attach_socket().
AttachResult attach_to_monitor(UniqueFd connection, const AttachOptions& options);

}  // namespace kiln::runtime
