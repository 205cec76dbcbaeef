#include "registry/layer_fetch.hpp"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::registry {

namespace {

// Hands the bytes of a download (pushed by the client's sink) to the extractor (which pulls
// them), holding at most kCapacity bytes in between so a fast network never fills memory.
class BytePipe {
public:
    static constexpr std::size_t kCapacity = 8u << 20;

    // From the downloading thread. Once the reader is done (the tar's end came before the
    // blob's, or unpacking failed) the rest is dropped: the download still runs to its end, so
    // a blob that does not match its digest is reported as that rather than as a bad tar.
    void write(const void* data, std::size_t size) {
        std::unique_lock lock(mutex_);
        room_.wait(lock, [&] { return queued_ < kCapacity || reader_done_; });
        if (reader_done_) return;
        chunks_.emplace_back(static_cast<const char*>(data), size);
        queued_ += size;
        data_.notify_one();
    }
    // The download ended: completely (error empty) or not.
    void close(std::exception_ptr error = nullptr) {
        std::lock_guard lock(mutex_);
        closed_ = true;
        writer_error_ = error;
        data_.notify_all();
    }

    // From the extracting thread: 0 at the end of a complete download; throws when it broke.
    std::size_t read(void* buf, std::size_t cap) {
        std::unique_lock lock(mutex_);
        data_.wait(lock, [&] { return !chunks_.empty() || closed_; });
        if (chunks_.empty()) {
            if (writer_error_) throw Error("the download broke off");
            return 0;
        }
        std::string& front = chunks_.front();
        std::size_t n = std::min(cap, front.size() - offset_);
        std::memcpy(buf, front.data() + offset_, n);
        offset_ += n;
        if (offset_ == front.size()) {
            queued_ -= front.size();
            chunks_.pop_front();
            offset_ = 0;
            room_.notify_one();
        }
        return n;
    }
    void reader_finished() {
        std::lock_guard lock(mutex_);
        reader_done_ = true;
        chunks_.clear();
        queued_ = 0;
        room_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable data_, room_;
    std::deque<std::string> chunks_;
    std::size_t offset_ = 0;  // into chunks_.front()
    std::size_t queued_ = 0;
    bool closed_ = false, reader_done_ = false;
    std::exception_ptr writer_error_;
};

}  // namespace

FetchedLayer fetch_layer(Repository& repo, image::Store& store, const image::Descriptor& descriptor,
                         const Progress& progress, const std::atomic<bool>& cancel) {
    const std::string what = "layer " + descriptor.digest.str();
    // get_blob hashes the bytes against the digest as they stream; the content store need not
    // hash them again (a second SHA-256 pass over every layer).
    image::ContentStore::Writer blob = store.content().writer_verified_by_caller();
    BytePipe pipe;

    std::optional<image::StagedLayer> staged;
    std::exception_ptr extract_error;
    std::jthread extractor([&] {
        try {
            staged.emplace(store.layers().stage_tar([&](void* buf, std::size_t cap) { return pipe.read(buf, cap); }));
            pipe.reader_finished();
        } catch (...) {
            extract_error = std::current_exception();
            pipe.reader_finished();
        }
    });

    std::exception_ptr download_error;
    try {
        repo.get_blob(
            descriptor.digest, static_cast<std::uint64_t>(descriptor.size),
            [&](const void* data, std::size_t size) {
                if (cancel.load()) throw Error("cancelled");
                blob.write(data, size);
                pipe.write(data, size);
            },
            progress);
        pipe.close();
    } catch (...) {
        download_error = std::current_exception();
        pipe.close(download_error);
    }
    extractor.join();

    // A download that failed (a digest or size that lies, a dead registry) explains everything
    // after it; only a blob that arrived intact can blame its tar.
    if (download_error) {
        if (cancel.load()) throw Error("cancelled");
        std::rethrow_exception(download_error);
    }
    if (extract_error) {
        try {
            std::rethrow_exception(extract_error);
        } catch (const std::exception& e) {
            throw Error("registry " + repo.domain() + ": " + what + " cannot be unpacked: " + e.what());
        }
    }
    if (blob.size() != static_cast<std::uint64_t>(descriptor.size))
        throw Error("registry " + repo.domain() + ": " + what + ": it sent " + std::to_string(blob.size()) +
                    " bytes, the manifest says " +
                    std::to_string(descriptor.size));
    // get_blob returned: its hash of these very bytes was the descriptor's digest.
    return FetchedLayer{std::move(*staged), std::move(blob), descriptor.digest,
                        static_cast<std::uint64_t>(descriptor.size)};
}

}  // namespace kiln::registry
