#pragma once
// A build context given as a tarball (`kiln build ctx.tar.gz`, `kiln build - < ctx.tar`),
// as docker build takes it: unpacked into a scratch directory through the safe extractor.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "image/staging.hpp"

namespace kiln::builder {

// Whether the first bytes of a stream are an archive docker build takes as a context: a
// tar (ustar magic at 257), or gzip, bzip2, xz or zstd data.
bool looks_like_context_archive(std::string_view head);

// What a context argument other than a directory gives.
struct StreamContext {
    std::unique_ptr<image::StagingDir> dir;  // the unpacked context (empty for a bare Dockerfile)
    // `kiln build -` with a stdin that is no archive: that text is the Dockerfile, and the
    // context is empty (docker build's behaviour).
    std::optional<std::string> dockerfile_text;
};

// Reads fd (a file, or stdin) and unpacks it into a new directory under scratch_parent (the
// store's tmp/, whose sweep leaves a locked staging directory alone).
// With allow_dockerfile, a stream that is no archive is taken as a Dockerfile of at most
// max_dockerfile bytes. name says where the bytes came from in errors.
StreamContext read_stream_context(int fd, const std::string& name, const std::string& scratch_parent,
                                  bool allow_dockerfile, std::size_t max_dockerfile);

}  // namespace kiln::builder
