#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/digest.hpp"

namespace kiln::image {

class StagingFile;

// Content-addressed blobs: <root>/blobs/sha256/<hex>. A blob is hashed while it streams
// into tmp/, checked against the expected digest, then renamed into place, so a blob file
// that exists is always complete and correct.
class ContentStore {
public:
    // Largest blob read() returns by default: configs and manifests are small, and a bad or
    // hostile one must not exhaust memory.
    static constexpr std::uint64_t kDefaultReadLimit = 64ull << 20;

    explicit ContentStore(std::string root);

    // Streams one blob into the store: write() any number of times, then commit().
    // Destroying an uncommitted writer leaves nothing behind.
    class Writer {
    public:
        // hash: false for bytes the caller checks against their digest itself as they stream
        // (a registry download): they are not hashed a second time, and commit() takes the
        // caller's digest, which it then requires.
        explicit Writer(ContentStore& store, bool hash = true);
        ~Writer();
        Writer(Writer&&) noexcept;
        Writer& operator=(Writer&&) = delete;
        void write(const void* data, std::size_t size);
        void write(std::string_view data) { write(data.data(), data.size()); }
        std::uint64_t size() const { return size_; }
        // The staged file, readable (pread) below size() while the writer lives: a push
        // sends a blob's first bytes while the rest is still being written.
        int fd() const;
        // Ends the stream and returns its digest without publishing it: a load checks
        // every blob first and commits them all at the end. No write() may follow. Not for
        // a writer that does not hash.
        Digest finish();
        // Verifies against expected (if given) and moves the blob into place. On mismatch
        // throws kiln::Error and the data is discarded.
        Digest commit(const std::optional<Digest>& expected = std::nullopt);

    private:
        ContentStore* store_;
        std::unique_ptr<StagingFile> file_;
        Sha256 hash_;
        std::optional<Digest> finished_;
        std::uint64_t size_ = 0;
        bool hashing_ = true;
    };
    Writer writer() { return Writer(*this); }
    // A writer for bytes whose digest the caller verifies as they stream (see Writer).
    Writer writer_verified_by_caller() { return Writer(*this, false); }

    Digest put(std::string_view data);
    // Reads fd to its end.
    Digest put_stream(int fd, const std::optional<Digest>& expected = std::nullopt);

    bool has(const Digest& d) const;
    std::string path(const Digest& d) const;  // where the blob is (whether or not it exists)
    std::optional<std::uint64_t> size(const Digest& d) const;
    // The blob's bytes, verified against its digest. Throws kiln::Error if it is missing,
    // larger than limit, or corrupt.
    std::string read(const Digest& d, std::uint64_t limit = kDefaultReadLimit) const;
    bool remove(const Digest& d);  // false if it was not there

    const std::string& root() const { return root_; }

private:
    std::string root_;
    std::string blobs_dir_;
    std::string tmp_dir_;
};

}  // namespace kiln::image
