#pragma once
#include <string>

#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

// `kiln import`: a root filesystem tarball (plain, gzip, xz or zstd) read from fd becomes a
// one-layer image with an OCI config (linux/amd64). `source` is what history records
// ("-" for stdin). Returns the image ID; tags it with `name` when not empty.
Digest import_rootfs(image::Store& store, int fd, const std::string& source,
                     const std::string& name, const std::string& message);

}  // namespace kiln::builder
