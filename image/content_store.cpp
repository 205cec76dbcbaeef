#include "image/content_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "image/staging.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::image {

ContentStore::ContentStore(std::string root)
    : root_(std::move(root)), blobs_dir_(root_ + "/blobs/sha256"), tmp_dir_(root_ + "/tmp") {
    mkdir_p(blobs_dir_);
    mkdir_p(tmp_dir_);
}

ContentStore::Writer::Writer(ContentStore& store, bool hash)
    : store_(&store), file_(std::make_unique<StagingFile>(store.tmp_dir_, "blob-")), hashing_(hash) {}

ContentStore::Writer::~Writer() = default;
ContentStore::Writer::Writer(Writer&&) noexcept = default;

void ContentStore::Writer::write(const void* data, std::size_t size) {
    if (!file_ || finished_) throw Error("content store: write after commit");
    if (hashing_) hash_.update(data, size);
    file_->write(data, size);
    size_ += size;
}

int ContentStore::Writer::fd() const {
    if (!file_) throw Error("content store: blob already committed");
    return file_->fd();
}

Digest ContentStore::Writer::finish() {
    if (!hashing_) throw Error("content store: a blob written without hashing has no digest of its own");
    if (!finished_) finished_ = hash_.finish();
    return *finished_;
}

Digest ContentStore::Writer::commit(const std::optional<Digest>& expected) {
    if (!file_) throw Error("content store: blob committed twice");
    if (!hashing_ && !expected) throw Error("content store: a blob written without hashing needs its digest");
    Digest got = hashing_ ? finish() : *expected;
    if (expected && *expected != got) {
        file_.reset();  // unlinks the staged data
        throw Error("content store: digest mismatch: expected " + expected->str() + ", got " +
                    got.str() + " (" + std::to_string(size_) + " bytes); the data was discarded");
    }
    // Same digest, same bytes: a blob already present (maybe from another process) is kept.
    if (store_->has(got))
        file_.reset();
    else {
        file_->commit(store_->path(got));
        file_.reset();
    }
    return got;
}

Digest ContentStore::put(std::string_view data) {
    Digest d = sha256_of(data);
    if (has(d)) return d;
    Writer w(*this);
    w.write(data);
    return w.commit(d);
}

Digest ContentStore::put_stream(int fd, const std::optional<Digest>& expected) {
    Writer w(*this);
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("content store: read blob stream");
        }
        if (n == 0) break;
        w.write(buf, static_cast<std::size_t>(n));
    }
    return w.commit(expected);
}

std::string ContentStore::path(const Digest& d) const { return blobs_dir_ + "/" + d.hex(); }

bool ContentStore::has(const Digest& d) const { return path_exists(path(d)); }

std::optional<std::uint64_t> ContentStore::size(const Digest& d) const {
    struct stat st;
    if (::stat(path(d).c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

std::string ContentStore::read(const Digest& d, std::uint64_t limit) const {
    const std::string p = path(d);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw Error("content store: blob " + d.str() + " not found");
        throw_errno("content store: open " + p);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("content store: stat " + p);
    if (static_cast<std::uint64_t>(st.st_size) > limit)
        throw Error("content store: blob " + d.str() + " is " + std::to_string(st.st_size) +
                    " bytes, more than the limit of " + std::to_string(limit));
    std::string out;
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("content store: read " + p);
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    if (sha256_of(out) != d)
        throw Error("content store: blob " + d.str() + " is corrupt (its content does not match its digest)");
    return out;
}

bool ContentStore::remove(const Digest& d) {
    if (::unlink(path(d).c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw_errno("content store: remove " + path(d));
}

}  // namespace kiln::image
