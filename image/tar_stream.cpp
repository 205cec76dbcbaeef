#include "image/tar_stream.hpp"

#include <algorithm>
#include <cstring>

#include "util/error.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kQueueLimit = 8u << 20;

}  // namespace

TarStream::TarStream(std::function<void(const ByteSink&)> produce) {
    writer_ = std::thread([this, produce = std::move(produce)] {
        std::exception_ptr error;
        try {
            produce([this](const void* d, std::size_t n) { put(d, n); });
        } catch (...) {
            error = std::current_exception();
        }
        std::lock_guard lock(mutex_);
        error_ = error;
        done_ = true;
        changed_.notify_all();
    });
}

TarStream::~TarStream() {
    {
        std::lock_guard lock(mutex_);
        abandoned_ = true;
        changed_.notify_all();
    }
    if (writer_.joinable()) writer_.join();
}

void TarStream::put(const void* data, std::size_t size) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return queued_ < kQueueLimit || abandoned_; });
    if (abandoned_) throw Error("the reader of the tar stream stopped");
    chunks_.emplace_back(static_cast<const char*>(data), size);
    queued_ += size;
    changed_.notify_all();
}

std::size_t TarStream::take(void* buf, std::size_t cap) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !chunks_.empty() || done_; });
    if (chunks_.empty()) {
        if (error_) std::rethrow_exception(error_);
        return 0;
    }
    const std::string& front = chunks_.front();
    std::size_t n = std::min(cap, front.size() - front_used_);
    std::memcpy(buf, front.data() + front_used_, n);
    front_used_ += n;
    queued_ -= n;
    if (front_used_ == front.size()) {
        chunks_.pop_front();
        front_used_ = 0;
    }
    changed_.notify_all();
    return n;
}

ByteSource TarStream::source() {
    return [this](void* buf, std::size_t cap) { return take(buf, cap); };
}

void TarStream::finish() {
    if (writer_.joinable()) writer_.join();
    if (error_) std::rethrow_exception(error_);
}

}  // namespace kiln::image
