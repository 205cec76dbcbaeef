#pragma once
#include "image/layer_tar.hpp"
#include "image/mount_spec.hpp"

namespace kiln::image {

class Store;

// Writes the tar of a root filesystem as a container sees it (`kiln export`): the mount
// (an image's read-only layer view, or later a container's overlay with its upper dir) is
// made in a child process's private mount namespace, so the kernel's overlayfs applies
// whiteouts and opaque directories and nothing leaks into the host's mounts. Needs root.
TarStats write_rootfs_tar(const MountSpec& rootfs, const std::string& scratch_dir, const ByteSink& sink);

// The flattened filesystem of a stored image (layers merged, later ones winning).
TarStats write_image_rootfs_tar(Store& store, const Digest& image_id, const ByteSink& sink);

// The filesystem of a snapshot (a container's writable layer over its image's layers, with
// its whiteouts applied), as it is at this moment, whether or not something has it mounted.
TarStats write_snapshot_rootfs_tar(Store& store, const std::string& snapshot_key, const ByteSink& sink);

}  // namespace kiln::image
