#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <utility>

#include "util/digest.hpp"

namespace kiln::image {

using ByteSink = std::function<void(const void* data, std::size_t size)>;

struct TarStats {
    Digest digest;            // sha256 of the stream
    std::uint64_t size = 0;   // bytes in the stream
};

// Writes the canonical tar stream of a layer directory (an overlay upper dir or an
// unpacked layer): PAX/ustar format; entries in depth-first order with each directory's
// names sorted bytewise (like Go's filepath.Walk: parents before children); numeric
// uid/gid with empty names; mtime in whole seconds, no atime/ctime; hardlinks within the
// layer kept as links to the first path; xattrs kept (trusted.overlay.* and user.overlay.*
// dropped); overlay whiteouts (0/0 char devices) written as ".wh.NAME" and opaque
// directories as "DIR/.wh..wh..opq" right after the directory. Sockets are left out.
// Returns the stream's sha256 (the diffID). sink may be empty: then the stream is only hashed.
TarStats write_layer_tar(const std::string& dir, const ByteSink& sink);

struct TarWriteOptions {
    // Reproducible builds (SOURCE_DATE_EPOCH): mtimes later than this are written as this.
    std::optional<std::int64_t> clamp_mtime;
    // The tree is a whole root filesystem, not a layer: whiteouts and opaque markers mean
    // nothing there and are left out.
    bool merged = false;
    // Off when the caller knows the digest already (a layer's recorded diffID): hashing is
    // a quarter of the time of a save that streams the tar. The result's digest is empty.
    bool hash = true;
    // Entries (with everything beneath them) to leave out; name is relative to the tree's
    // top, without a trailing '/'. Empty: none.
    std::function<bool(const std::string& name, const struct stat& st)> skip;
};

// The version of write_layer_tar's byte format. A layer marked as reproducible by one
// version is hashed again by a kiln whose writer writes different bytes: bump it then.
constexpr int kCanonicalTarFormat = 1;
TarStats write_layer_tar(const std::string& dir, const ByteSink& sink, const TarWriteOptions& options);

// The tar of one entry `name` of the directory parent_fd (a directory with everything
// beneath it, walked through fds, never following a symlink), named archive_name in the
// stream ("." for a directory's contents). display_name is the parent in errors.
TarStats write_entry_tar(int parent_fd, const std::string& name, const std::string& archive_name,
                         const std::string& display_name, const ByteSink& sink, const TarWriteOptions& options);

// Reads a layer tar (plain, gzip, xz, zstd, detected from the bytes) from fd and unpacks it
// into dest, turning ".wh.NAME" into overlay whiteouts and ".wh..wh..opq" into the opaque
// xattr. Never writes outside dest, whatever "..", absolute symlinks or hardlinks say;
// rejects devices other than whiteouts when not root. Returns the digest and size of the
// uncompressed stream (the diffID).
TarStats extract_layer_tar(int fd, const std::string& dest);

// Pulls up to cap bytes into buf; returns 0 at the end of the stream. Throws kiln::Error.
using ByteSource = std::function<std::size_t(void* buf, std::size_t cap)>;

struct ExtractOptions {
    // A layer: ".wh." names become whiteouts, and an entry replaces whatever is in its way.
    // Otherwise (`kiln cp`) names are taken as they are, and a directory is never
    // replaced by a non-directory (Docker's NoOverwriteDirNonDir).
    bool layer = true;
    // Every entry owned by this uid/gid instead of the archive's (docker cp without -a).
    std::optional<std::pair<uid_t, gid_t>> owner;
    // Called for each directory made on the way to an entry (one the archive has no entry
    // for), with its fd (O_PATH) and path relative to dest: ADD gives it the owner and mode
    // the image below already has there.
    std::function<void(int dir_fd, const std::string& rel)> made_parent;
};

// Unpacks a tar (plain or compressed) from source into the directory dest_fd with the
// same guarantees as extract_layer_tar: every path resolves inside that directory, as if
// it were "/", so nothing in the tar or already on disk leads outside it. dest_name names
// it in errors.
TarStats extract_tar_into(int dest_fd, const std::string& dest_name, const ByteSource& source,
                          const ExtractOptions& options);
// The same, reading the (possibly compressed) layer from source: lets a caller tee the
// blob's bytes elsewhere (a hash, the content store) while the layer unpacks.
// tar_bytes (may be empty) sees the uncompressed stream, the bytes the diffID covers.
TarStats extract_layer_tar(const ByteSource& source, const std::string& dest, const ByteSink& tar_bytes = {});

// The uncompressed bytes of a (gzip, zstd, xz or plain) layer blob read from source, into sink.
// Returns their digest and size: the diffID a caller checks them against.
TarStats decompress_layer(const ByteSource& source, const ByteSink& sink);

enum class Compression { None, Gzip, Zstd };

// Compresses a stream on the fly (for layer blobs: write_layer_tar → Compressor → blob
// file), hashing the compressed bytes as they leave. Output is deterministic (no gzip
// timestamp or name), so the same layer always gives the same blob digest.
// level: -1 for the codec's default (gzip 6, zstd 3). hash: off when the sink hashes the
// bytes anyway (a content store writer): finish() then returns an empty digest.
class Compressor {
public:
    Compressor(Compression codec, ByteSink out, int level = -1, bool hash = true);
    ~Compressor();
    Compressor(const Compressor&) = delete;
    Compressor& operator=(const Compressor&) = delete;

    void write(const void* data, std::size_t size);
    // A ByteSink feeding write(); valid while this object lives.
    ByteSink sink() {
        return [this](const void* d, std::size_t n) { write(d, n); };
    }
    // Flushes the codec; returns the digest and size of the compressed stream.
    TarStats finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::image
