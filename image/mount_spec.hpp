#pragma once
#include <string>

namespace kiln::image {

// How to mount a snapshot as a root filesystem, shaped like containerd's mount.Mount.
// The runtime performs the mount (inside the container's mount namespace) after
// chdir(base_dir), so overlay lowerdirs can be short relative links ("l/ABC:l/DEF") and a
// 120-layer image still fits in one page of mount data.
struct MountSpec {
    std::string type;     // "overlay" or "bind"
    std::string source;   // "overlay", or the directory to bind
    std::string options;  // mount data, e.g. "lowerdir=l/A:l/B,upperdir=/…/upper,workdir=/…/work"
    std::string base_dir; // cwd for the mount call (relative paths in options resolve here)
    bool readonly = false;
};

}  // namespace kiln::image
