#pragma once
// `kiln diff CONTAINER`: what the container changed against its image, read from its
// writable layer (the snapshot's upper dir), as docker diff lists it for overlay2
// (pkg/archive's overlay changes): depth-first in name order, "D" for a whiteout or an
// opaque directory, "A" for what the image lacks, "C" for what it had, and "C" for the
// parent directory of an added or deleted entry.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "runtime/container_records.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::runtime {

struct ContainerChange {
    char kind;         // 'A', 'C' or 'D'
    std::string path;  // absolute, as the container sees it
};

// The files kiln bind-mounts into every container (/etc/hostname, /etc/hosts,
// /etc/resolv.conf) leave an empty mount point in the upper dir where the image had none.
// Docker keeps those in an "init" layer below the container's, so neither its diff nor its
// commit shows them; kiln leaves them out of both. path is absolute.
bool runtime_mount_point(const std::string& path, const struct stat& st);

// Needs root (the image's layers are mounted, detached, to look paths up in).
std::vector<ContainerChange> container_changes(image::Store& store, const ContainerRow& row);

}  // namespace kiln::runtime
