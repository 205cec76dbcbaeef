#pragma once
// A mount that is attached nowhere: the new mount API (fsopen/fsmount, open_tree) gives a
// descriptor of the mount's root and no path, so no other process sees it, nothing has
// to be unmounted and a crash leaves nothing behind: closing the descriptor drops it.
#include <string>

#include "image/mount_spec.hpp"
#include "util/fd.hpp"

namespace kiln::image {

// The root directory of `spec` mounted (an overlay, or a bind of a directory), read-only
// when spec.readonly. Relative paths in its options resolve against spec.base_dir. Needs
// root. Throws kiln::Error.
UniqueFd mount_detached(const MountSpec& spec);

}  // namespace kiln::image
