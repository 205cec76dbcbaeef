#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "image/layer_tar.hpp"
#include "util/fd.hpp"

namespace kiln::image {

// Where an image archive goes: a tar stream (docker-archive, oci-archive) or a directory
// (oci-dir). Paths are relative ("blobs/sha256/<hex>"), written by kiln, never from input.
class ArchiveOutput {
public:
    virtual ~ArchiveOutput() = default;
    virtual void add_directory(const std::string& path) = 0;
    virtual void add_bytes(const std::string& path, std::string_view data, mode_t mode) = 0;
    // size bytes produced by `produce` into the sink it is given; anything else is an error.
    virtual void add_stream(const std::string& path, std::uint64_t size, mode_t mode,
                            const std::function<void(const ByteSink&)>& produce) = 0;
    // Completes the archive (end-of-archive blocks, or the directory's final rename).
    virtual void finish() = 0;
};

// A tar stream into fd with fixed headers (uid/gid 0, no names, mtime `mtime`), so the
// same content always gives the same bytes.
std::unique_ptr<ArchiveOutput> tar_output(int fd, std::int64_t mtime);

// A directory that appears at `dest` (which must not exist, or be an empty directory)
// only when finish() succeeds; until then it is built beside it and removed on failure.
std::unique_ptr<ArchiveOutput> directory_output(const std::string& dest);

}  // namespace kiln::image
