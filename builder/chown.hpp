#pragma once
#include <sys/types.h>

#include <string>
#include <utility>

#include "builder/source_tree.hpp"

namespace kiln::builder {

// COPY --chown=USER[:GROUP]: names are looked up in the image's own /etc/passwd and
// /etc/group (read from `rootfs`, never the host's); a user without a group uses the same
// number as GID, as Docker does.
std::pair<uid_t, gid_t> resolve_owner(const std::string& spec, const SourceTree& rootfs);

}  // namespace kiln::builder
