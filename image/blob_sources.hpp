#pragma once
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {

class Store;

// Which repositories of a registry are known to hold a blob: a push records the blobs it
// wrote (or found) in the repository it pushed to, a pull the blobs it read. A later push of
// the same blob to another repository of that registry asks for a cross-repository mount
// from one of them instead of uploading the bytes again. A source is a hint, never a
// promise: the registry may have deleted the blob since, and the mount then falls back to
// an upload.
//
// domain: the registry as the user names it ("localhost:5000", "docker.io"); repository:
// its path there ("library/busybox").

// Records that repository on domain holds every blob in digests (one transaction).
void record_blob_sources(Store& store, const std::string& domain, const std::string& repository,
                         const std::vector<Digest>& digests);

// Repositories on domain known to hold digest, most recently seen first, without `except`
// (the repository being pushed to) and at most `limit` of them.
std::vector<std::string> blob_source_repositories(Store& store, const Digest& digest, const std::string& domain,
                                                  const std::string& except, std::size_t limit = 3);

}  // namespace kiln::image
