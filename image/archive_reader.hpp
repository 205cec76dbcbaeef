#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::image {

class Store;

// A regular file inside an archive: `size` bytes at `offset` of fd.
struct ArchiveFile {
    std::string name;
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    UniqueFd owned;  // set when the file has an fd of its own
};

// The files of an image archive (a tar or a directory), by name inside it.
class ArchiveSource {
public:
    virtual ~ArchiveSource() = default;
    // The regular file `name` (following links that stay inside the archive); nullopt
    // when there is none.
    virtual std::optional<ArchiveFile> open(const std::string& name) = 0;
};

// Opens what `kiln load -i` names: "-" (stdin), a directory (an OCI layout), or a file
// (a tar, plain or gzip/xz/zstd/bzip2-compressed). A compressed or unseekable archive is
// first decompressed into the store's tmp/ (removed afterwards), so every later read is a
// pread at a known offset.
std::unique_ptr<ArchiveSource> open_archive(Store& store, const std::string& input);

struct LoadedImage {
    Digest id;
    std::vector<std::string> names;  // full normalized references
};

struct LoadReport {
    std::vector<LoadedImage> images;
    std::vector<std::string> notes;  // e.g. which platform of an index was picked
};

// Loads every image of the archive (legacy or Docker 25+ docker-archive, OCI layout)
// into the store. Every config and layer is checked against its digest while it streams;
// any failure throws kiln::Error naming the archive file at fault and leaves the store as
// it was: layers are staged in tmp/ and published only once all images are verified.
// Layers whose chain is already in the store are not unpacked again.
LoadReport load_images(Store& store, ArchiveSource& source);

}  // namespace kiln::image
