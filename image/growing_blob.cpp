#include "image/growing_blob.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::image {

namespace {

// Written-back-to-disk is started for every this many bytes as they are made: the commit's
// fsync then waits for the last few only, not for the whole blob at once.
constexpr std::uint64_t kWritebackStep = 8ull << 20;

}  // namespace

GrowingLayerBlob::GrowingLayerBlob(Store& store, const LayerInfo& layer, Compression compression)
    : store_(store),
      layer_(layer),
      compression_(compression),
      writer_(store.content().writer()),
      fd_(::fcntl(writer_.fd(), F_DUPFD_CLOEXEC, 0)),
      maker_() {
    if (!fd_) throw_errno("dup the blob being made");
    maker_ = std::thread([this] { make(); });
}

GrowingLayerBlob::~GrowingLayerBlob() {
    {
        std::lock_guard lock(mutex_);
        cancelled_ = true;
    }
    if (maker_.joinable()) maker_.join();
}

void GrowingLayerBlob::make() {
    std::string error;
    try {
        // The writer hashes what it stores: the compressor need not hash it too.
        Compressor compressor(
            compression_,
            [this](const void* d, std::size_t n) {
                {
                    std::lock_guard lock(mutex_);
                    if (cancelled_) throw Error("cancelled");  // the reader gave up: stop
                }
                writer_.write(d, n);
                std::uint64_t now;
                {
                    std::lock_guard lock(mutex_);
                    now = written_ += n;
                }
                grown_.notify_all();
                if (now - flushed_ >= kWritebackStep) {
                    // Only a hint to the kernel; the commit's fsync is what makes it durable.
                    ::sync_file_range(fd_.get(), static_cast<off_t>(flushed_), static_cast<off_t>(now - flushed_),
                                      SYNC_FILE_RANGE_WRITE);
                    flushed_ = now;
                }
            },
            -1, false);
        stream_layer_tar(store_, layer_, compressor.sink());
        compressor.finish();
    } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "compressing layer " + layer_.diff_id.str() + " failed";
    }
    {
        std::lock_guard lock(mutex_);
        complete_ = true;
        error_ = std::move(error);
    }
    grown_.notify_all();
}

std::uint64_t GrowingLayerBlob::wait(std::uint64_t offset, std::uint64_t want) {
    std::unique_lock lock(mutex_);
    grown_.wait(lock, [&] { return complete_ || (written_ >= offset && written_ - offset >= want); });
    if (!error_.empty()) throw Error("layer " + layer_.diff_id.str() + ": " + error_);
    if (offset >= written_) return 0;
    return std::min(want, written_ - offset);
}

std::size_t GrowingLayerBlob::read(std::uint64_t offset, void* buf, std::size_t cap) const {
    for (;;) {
        ssize_t n = ::pread(fd_.get(), buf, cap, static_cast<off_t>(offset));
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) throw_errno("read the blob of layer " + layer_.diff_id.str() + " being made");
    }
}

LayerBlob GrowingLayerBlob::complete() {
    if (committed_) return *committed_;
    wait(0, ~std::uint64_t{0});  // the end, or the maker's error
    if (maker_.joinable()) maker_.join();
    return LayerBlob{layer_media_type(compression_), writer_.finish(), writer_.size()};
}

LayerBlob GrowingLayerBlob::finish() {
    if (committed_) return *committed_;
    LayerBlob blob = complete();
    writer_.commit();
    record_layer_blob(store_, layer_.diff_id, blob);
    committed_ = blob;
    return blob;
}

}  // namespace kiln::image
