#pragma once
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

// `kiln import`: a root filesystem tarball (plain, gzip, xz or zstd) read from fd becomes a
// one-layer image with an OCI config (linux/amd64). `source` is what history records
// ("-" for stdin), unless `message` says otherwise. `changes` are Dockerfile instructions
// applied to the config (docker import --change). Returns the image ID; tags it with `name`
// when not empty.
Digest import_rootfs(image::Store& store, int fd, const std::string& source, const std::string& name,
                     const std::string& message, const std::vector<std::string>& changes = {});

}  // namespace kiln::builder
