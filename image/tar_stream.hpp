#pragma once
// A tar written by one function and read by another at the same time (`cp` packs a tree
// and unpacks it elsewhere, `commit` packs an upper dir into the layer store): the writer
// runs on its own thread and hands its bytes over through a small bounded queue, so the
// whole tar is never held in memory or on disk.
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "image/layer_tar.hpp"

namespace kiln::image {

class TarStream {
public:
    // Starts produce(sink) on a thread; its bytes come out of source().
    explicit TarStream(std::function<void(const ByteSink&)> produce);
    // Stops the writer (its sink throws) if the reader gave up early, and joins it.
    ~TarStream();
    TarStream(const TarStream&) = delete;
    TarStream& operator=(const TarStream&) = delete;

    // The writer's bytes; 0 once it has finished. Throws the writer's error when it failed.
    ByteSource source();
    // Joins the writer; rethrows its error. Call after source() returned 0.
    void finish();

private:
    void put(const void* data, std::size_t size);
    std::size_t take(void* buf, std::size_t cap);

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::string> chunks_;
    std::size_t front_used_ = 0;  // bytes of chunks_.front() already taken
    std::size_t queued_ = 0;
    bool done_ = false;       // the writer returned or threw
    bool abandoned_ = false;  // the reader will not read any more
    std::exception_ptr error_;
    std::thread writer_;
};

}  // namespace kiln::image
