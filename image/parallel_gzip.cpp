#include "image/parallel_gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/error.hpp"

namespace kiln::image {

namespace {

using Bytes = std::vector<unsigned char>;

constexpr std::size_t kWindow = 32 * 1024;  // deflate's history: what a chunk's dictionary holds
constexpr std::size_t kStoredBlockMax = 65535;
// The incompressibility probe: a few windows spread over the chunk, deflated fast. A chunk
// whose sample does not shrink by at least 1/64 is stored.
constexpr std::size_t kProbeWindow = 4096;
constexpr std::size_t kProbeWindows = 4;
constexpr unsigned kMaxThreads = 8;

struct Chunk {
    Bytes dictionary;  // up to kWindow bytes of input before this chunk
    Bytes input;
    bool last = false;
    Bytes output;
    unsigned long crc = 0;
    bool done = false;
    std::string error;
};

// One raw-deflate stream, reset for every chunk.
class RawDeflate {
public:
    explicit RawDeflate(int level) {
        if (deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw Error("gzip: cannot set up zlib at level " + std::to_string(level));
    }
    ~RawDeflate() { deflateEnd(&z_); }
    RawDeflate(const RawDeflate&) = delete;
    RawDeflate& operator=(const RawDeflate&) = delete;

    // Appends the deflate of [data, data+size) to out, primed with dictionary; flush is
    // Z_SYNC_FLUSH (ends on a byte boundary, more blocks may follow) or Z_FINISH.
    void run(const Bytes& dictionary, const unsigned char* data, std::size_t size, int flush, Bytes& out) {
        if (deflateReset(&z_) != Z_OK) throw Error("gzip: zlib reset failed");
        if (!dictionary.empty() &&
            deflateSetDictionary(&z_, dictionary.data(), static_cast<uInt>(dictionary.size())) != Z_OK)
            throw Error("gzip: zlib refused the dictionary");
        const std::size_t start = out.size();
        out.resize(start + deflateBound(&z_, static_cast<uLong>(size)) + 16);
        z_.next_in = const_cast<unsigned char*>(data);
        z_.avail_in = static_cast<uInt>(size);
        std::size_t produced = start;
        for (;;) {
            z_.next_out = out.data() + produced;
            z_.avail_out = static_cast<uInt>(out.size() - produced);
            int r = deflate(&z_, flush);
            produced = out.size() - z_.avail_out;
            if (r == Z_STREAM_ERROR) throw Error("gzip: zlib deflate failed");
            const bool complete = flush == Z_FINISH ? r == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out > 0);
            if (complete) break;
            if (z_.avail_out == 0) out.resize(out.size() + 64 * 1024);
        }
        out.resize(produced);
    }

    std::uint64_t total_out() const { return z_.total_out; }

private:
    z_stream z_{};
};

// Stored deflate blocks holding data verbatim; the chunk starts on a byte boundary (the one
// before it ended with a sync flush) and so do stored blocks, so nothing needs flushing.
void append_stored(const unsigned char* data, std::size_t size, bool last, Bytes& out) {
    std::size_t pos = 0;
    do {
        const std::size_t n = std::min(kStoredBlockMax, size - pos);
        const bool final_block = last && pos + n == size;
        const unsigned char header[5] = {static_cast<unsigned char>(final_block ? 1 : 0),
                                         static_cast<unsigned char>(n & 0xff), static_cast<unsigned char>(n >> 8),
                                         static_cast<unsigned char>(~n & 0xff),
                                         static_cast<unsigned char>((~n >> 8) & 0xff)};
        out.insert(out.end(), header, header + 5);
        out.insert(out.end(), data + pos, data + pos + n);
        pos += n;
    } while (pos < size);
}

// What a worker thread needs to compress chunks: its own zlib streams.
class ChunkCompressor {
public:
    explicit ChunkCompressor(int level) : level_(level), deflate_(level), probe_(1) {}

    void compress(Chunk& chunk) {
        const Bytes& in = chunk.input;
        chunk.crc = crc32(0, in.data(), static_cast<uInt>(in.size()));
        chunk.output.reserve(in.size() + in.size() / 64 + 64);
        if (level_ == 0 || !shrinks(in))
            append_stored(in.data(), in.size(), chunk.last, chunk.output);
        else
            deflate_.run(chunk.dictionary, in.data(), in.size(), chunk.last ? Z_FINISH : Z_SYNC_FLUSH, chunk.output);
    }

private:
    bool shrinks(const Bytes& in) {
        if (in.size() < kProbeWindow * kProbeWindows * 4) return true;  // small: just deflate it
        sample_.clear();
        const std::size_t stride = (in.size() - kProbeWindow) / (kProbeWindows - 1);
        for (std::size_t i = 0; i < kProbeWindows; ++i)
            sample_.insert(sample_.end(), in.begin() + static_cast<std::ptrdiff_t>(i * stride),
                           in.begin() + static_cast<std::ptrdiff_t>(i * stride + kProbeWindow));
        probe_out_.clear();
        probe_.run({}, sample_.data(), sample_.size(), Z_FINISH, probe_out_);
        return probe_out_.size() * 64 < sample_.size() * 63;
    }

    int level_;
    RawDeflate deflate_;
    RawDeflate probe_;
    Bytes sample_, probe_out_;
};

void put_le32(unsigned char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

struct ParallelGzip::Impl {
    ByteSink out;
    int level;
    unsigned threads;
    std::size_t max_in_flight;

    Bytes pending;  // the chunk being filled
    Bytes tail;     // the last kWindow bytes before `pending`
    std::deque<std::unique_ptr<Chunk>> order;  // submitted, not yet written, oldest first
    unsigned long crc = crc32(0, nullptr, 0);
    std::uint64_t total = 0;
    bool header_written = false;
    bool finished = false;
    std::unique_ptr<ChunkCompressor> inline_compressor;  // threads == 1

    std::mutex mutex;
    std::condition_variable work_ready, chunk_done;
    std::deque<Chunk*> queue;
    bool stopping = false;
    std::vector<std::thread> workers;  // last: joined in ~Impl before the rest goes

    Impl(ByteSink sink, int lv, unsigned n) : out(std::move(sink)), level(lv < 0 ? Z_DEFAULT_COMPRESSION : lv) {
        if (level > 9)
            throw Error("gzip: compression level " + std::to_string(lv) + " is not 0-9");
        threads = n ? n : std::clamp(std::thread::hardware_concurrency(), 1u, kMaxThreads);
        max_in_flight = 2 * threads + 1;
        pending.reserve(kChunkSize);
        if (threads == 1) {
            inline_compressor = std::make_unique<ChunkCompressor>(level);
            return;
        }
        // Each worker makes its zlib streams first: a failure there shows at the first chunk.
        for (unsigned i = 0; i < threads; ++i) workers.emplace_back([this] { work(); });
    }

    ~Impl() {
        {
            std::lock_guard lock(mutex);
            stopping = true;
            queue.clear();
        }
        work_ready.notify_all();
        for (auto& w : workers) w.join();
    }

    void work() {
        std::unique_ptr<ChunkCompressor> compressor;
        std::string setup_error;
        try {
            compressor = std::make_unique<ChunkCompressor>(level);
        } catch (const std::exception& e) {
            setup_error = e.what();
        }
        for (;;) {
            Chunk* chunk = nullptr;
            {
                std::unique_lock lock(mutex);
                work_ready.wait(lock, [&] { return stopping || !queue.empty(); });
                if (stopping) return;
                chunk = queue.front();
                queue.pop_front();
            }
            std::string error = setup_error;
            if (compressor) {
                try {
                    compressor->compress(*chunk);
                } catch (const std::exception& e) {
                    error = e.what();
                }
            }
            {
                std::lock_guard lock(mutex);
                chunk->error = std::move(error);
                chunk->done = true;
            }
            chunk_done.notify_all();
        }
    }

    void write_header() {
        if (header_written) return;
        // No name, no mtime (0), no extra flags, OS = Unix: the same bytes every time.
        static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
        out(header, sizeof header);
        header_written = true;
    }

    void emit(Chunk& chunk) {
        if (!chunk.error.empty()) throw Error(chunk.error);
        write_header();
        if (!chunk.output.empty()) out(chunk.output.data(), chunk.output.size());
        crc = crc32_combine(crc, chunk.crc, static_cast<z_off_t>(chunk.input.size()));
        total += chunk.input.size();
    }

    // Writes the finished chunks at the front of the queue, waiting for the oldest while
    // more than `limit` are in flight.
    void drain(std::size_t limit) {
        while (!order.empty()) {
            Chunk& front = *order.front();
            {
                std::unique_lock lock(mutex);
                if (!front.done && order.size() <= limit) return;
                chunk_done.wait(lock, [&] { return front.done; });
            }
            emit(front);
            order.pop_front();
        }
    }

    void submit(bool last) {
        auto chunk = std::make_unique<Chunk>();
        chunk->dictionary = tail;
        chunk->input = std::move(pending);
        chunk->last = last;
        const Bytes& in = chunk->input;
        if (in.size() >= kWindow) {
            tail.assign(in.end() - static_cast<std::ptrdiff_t>(kWindow), in.end());
        } else {
            tail.insert(tail.end(), in.begin(), in.end());
            if (tail.size() > kWindow) tail.erase(tail.begin(), tail.end() - static_cast<std::ptrdiff_t>(kWindow));
        }
        pending = Bytes();
        pending.reserve(kChunkSize);

        if (inline_compressor) {
            inline_compressor->compress(*chunk);
            chunk->done = true;
            emit(*chunk);
            return;
        }
        Chunk* raw = chunk.get();
        order.push_back(std::move(chunk));
        {
            std::lock_guard lock(mutex);
            queue.push_back(raw);
        }
        work_ready.notify_one();
        drain(max_in_flight - 1);
    }
};

ParallelGzip::ParallelGzip(ByteSink out, int level, unsigned threads)
    : impl_(std::make_unique<Impl>(std::move(out), level, threads)) {}

ParallelGzip::~ParallelGzip() = default;

void ParallelGzip::write(const void* data, std::size_t size) {
    if (impl_->finished) throw Error("gzip: write after finish");
    const auto* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
        const std::size_t room = kChunkSize - impl_->pending.size();
        const std::size_t n = std::min(room, size);
        impl_->pending.insert(impl_->pending.end(), p, p + n);
        p += n;
        size -= n;
        if (impl_->pending.size() == kChunkSize) impl_->submit(false);
    }
}

void ParallelGzip::finish() {
    if (impl_->finished) throw Error("gzip: finished twice");
    impl_->finished = true;
    impl_->submit(true);  // possibly empty: it carries the final block
    impl_->drain(0);
    impl_->write_header();
    unsigned char trailer[8];
    put_le32(trailer, static_cast<std::uint32_t>(impl_->crc));
    put_le32(trailer + 4, static_cast<std::uint32_t>(impl_->total & 0xffffffffu));
    impl_->out(trailer, sizeof trailer);
}

}  // namespace kiln::image
