#pragma once
// The socket through which `kiln attach` reaches a detached container's monitor
// (runtime/monitor/attach_protocol.hpp has the wire). kiln binds it before the container
// starts and hands the listening descriptor to the monitor, so a `start -a` client that
// connects first misses none of the output.
#include <string>

#include "util/fd.hpp"

namespace kiln::runtime {

// Binds and listens on <container_dir>/attach/attach.sock: the directory made (or reset
// to) mode 0700 and the socket 0600, so only root on the host reaches it. Replaces what a
// killed monitor left there. Close-on-exec.
UniqueFd listen_attach_socket(const std::string& container_dir);

// Connects to the monitor of the container whose folder this is; an empty UniqueFd when
// no monitor listens there (the container is not running).
UniqueFd connect_attach_socket(const std::string& container_dir);

}  // namespace kiln::runtime
