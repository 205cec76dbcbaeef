#pragma once
// A container's filesystem as one directory descriptor, for `cp`: every path inside it is
// then opened beneath that descriptor (open_in_root), never by a host path, so a symlink in
// the container, even one swapped in while a copy runs (CVE-2018-15664), resolves inside it.
#include "runtime/container_records.hpp"
#include "util/fd.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::runtime {

struct ContainerRoot {
    UniqueFd fd;           // the container's "/"
    bool running = false;  // the running container's own mounts, else its rootfs mounted here
};

// Running: the root of the container's init (/proc/PID/root, through a pidfd checked to be
// that container's, so a reused pid never hands out the host's root), with its mounts.
// Stopped: its overlay (the kept snapshot's upper dir over the image) mounted detached,
// writable, seen by no one else. Needs root.
ContainerRoot open_container_root(image::Store& store, const ContainerRow& row);

}  // namespace kiln::runtime
