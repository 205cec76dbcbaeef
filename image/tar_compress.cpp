// Streaming compression of layer tars: gzip on several threads (parallel_gzip.hpp), zstd
// through libarchive's write filter in "raw" format with zstd's own worker threads.
#include <archive.h>
#include <archive_entry.h>

#include <optional>
#include <string>

#include "image/layer_tar.hpp"
#include "image/parallel_gzip.hpp"
#include "util/error.hpp"

namespace kiln::image {

namespace {

// zstd's worker count. Its multi-threaded output depends on the count (zstd issue 2327), so
// the count is fixed, not the machine's cores: the same layer gives the same blob anywhere.
constexpr int kZstdWorkers = 4;

struct WriteDeleter {
    void operator()(archive* a) const noexcept { archive_write_free(a); }
};

}  // namespace

struct Compressor::Impl {
    ByteSink out;
    std::optional<Sha256> hash;
    std::uint64_t size = 0;
    std::unique_ptr<archive, WriteDeleter> a;  // None and Zstd
    std::unique_ptr<ParallelGzip> gzip;        // Gzip
    bool finished = false;
    std::string error;  // a failure inside the sink, reported by write()/finish()

    void emit(const void* buf, std::size_t n) {
        if (hash) hash->update(buf, n);
        size += n;
        if (out) out(buf, n);
    }

    static la_ssize_t on_write(archive*, void* self, const void* buf, size_t n) {
        auto* impl = static_cast<Impl*>(self);
        try {
            impl->emit(buf, n);
        } catch (const std::exception& e) {
            impl->error = e.what();
            return -1;
        }
        return static_cast<la_ssize_t>(n);
    }

    TarStats stats() { return TarStats{hash ? hash->finish() : Digest{}, size}; }

    [[noreturn]] void fail(const std::string& what) {
        if (!error.empty()) throw Error(error);
        const char* msg = archive_error_string(a.get());
        throw Error(what + ": " + (msg ? msg : "libarchive error"));
    }
};

Compressor::Compressor(Compression codec, ByteSink out, int level, bool hash) : impl_(std::make_unique<Impl>()) {
    impl_->out = std::move(out);
    if (hash) impl_->hash.emplace();
    if (codec == Compression::Gzip) {
        Impl* impl = impl_.get();
        impl_->gzip = std::make_unique<ParallelGzip>([impl](const void* d, std::size_t n) { impl->emit(d, n); }, level);
        return;
    }
    impl_->a.reset(archive_write_new());
    archive* a = impl_->a.get();
    if (!a) throw Error("libarchive: out of memory");
    int r = ARCHIVE_OK;
    const char* module = nullptr;
    switch (codec) {
    case Compression::None:
        r = archive_write_add_filter_none(a);
        break;
    case Compression::Gzip:
        break;  // ParallelGzip, above
    case Compression::Zstd:
        r = archive_write_add_filter_zstd(a);
        module = "zstd";
        break;
    }
    if (r != ARCHIVE_OK) impl_->fail("set up compression");
    if (codec == Compression::Zstd &&
        archive_write_set_filter_option(a, "zstd", "threads", std::to_string(kZstdWorkers).c_str()) != ARCHIVE_OK)
        impl_->fail("set zstd threads");
    if (module && level >= 0) {
        std::string lv = std::to_string(level);
        if (archive_write_set_filter_option(a, module, "compression-level", lv.c_str()) != ARCHIVE_OK)
            impl_->fail("set compression level " + lv);
    }
    if (archive_write_set_format_raw(a) != ARCHIVE_OK) impl_->fail("set up compression");
    archive_write_set_bytes_per_block(a, 1 << 20);
    archive_write_set_bytes_in_last_block(a, 1);  // no padding after the compressed data
    if (archive_write_open2(a, impl_.get(), nullptr, &Impl::on_write, nullptr, nullptr) != ARCHIVE_OK)
        impl_->fail("start compression");
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), "layer.tar");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) impl_->fail("start compression");
}

Compressor::~Compressor() = default;

void Compressor::write(const void* data, std::size_t size) {
    if (impl_->finished) throw Error("compressor: write after finish");
    if (impl_->gzip) {
        impl_->gzip->write(data, size);
        return;
    }
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        la_ssize_t n = archive_write_data(impl_->a.get(), p, size);
        if (n <= 0) impl_->fail("compress layer");
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

TarStats Compressor::finish() {
    if (impl_->finished) throw Error("compressor: finished twice");
    impl_->finished = true;
    if (impl_->gzip) {
        impl_->gzip->finish();
        return impl_->stats();
    }
    if (archive_write_close(impl_->a.get()) != ARCHIVE_OK) impl_->fail("finish compression");
    return impl_->stats();
}

}  // namespace kiln::image
