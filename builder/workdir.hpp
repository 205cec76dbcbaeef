#pragma once
// WORKDIR makes its directory when the image lacks it, as BuildKit's mkdir step does:
// the missing directories, 0755, owned by the USER in effect.
#include <sys/types.h>

#include <string>

#include "builder/source_tree.hpp"

namespace kiln::builder {

// Whether WORKDIR `path` (absolute) must create directories in the image `rootfs`: some
// component is missing. False for "/" and when an existing component is not a directory
// (a symlink is left to resolve at run time, never replaced by a directory).
bool workdir_needs_dirs(const SourceTree& rootfs, const std::string& path);

// Creates the directories of `path` that `rootfs` lacks in the layer's upper_dir, owned
// by uid:gid; the ones the image has keep their owner and mode.
void make_workdir(const std::string& path, uid_t uid, gid_t gid, const std::string& upper_dir,
                  const SourceTree& rootfs);

}  // namespace kiln::builder
