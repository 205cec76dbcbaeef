#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "image/layer_tar.hpp"

namespace kiln::image {

// A gzip stream made on several threads, pigz's way: the input is cut into fixed chunks,
// each deflated on its own (raw deflate, primed with the 32 KiB before it as dictionary,
// ended on a byte boundary with a sync flush, the last one with the final block), and the
// pieces are joined in order under one gzip header and trailer (CRC-32 combined from the
// chunks'). The result is one standard gzip member.
//
// The bytes depend only on the input, the level and kChunkSize, never on the thread count
// or timing, so a layer always gives the same blob digest (reproducible builds).
//
// A chunk whose sampled bytes do not shrink at all (already compressed or random data) is
// written as stored blocks instead of being searched for matches: zlib spends as long
// failing to compress such data as compressing text, and storing it costs under 0.01 %
// in size. The test is on the chunk's own bytes, so it too is deterministic.
class ParallelGzip {
public:
    static constexpr std::size_t kChunkSize = 512 * 1024;

    // level: zlib's 0–9, or -1 for its default (6). threads: 0 for one per core (at most 8);
    // 1 compresses in the caller's thread.
    ParallelGzip(ByteSink out, int level = -1, unsigned threads = 0);
    ~ParallelGzip();
    ParallelGzip(const ParallelGzip&) = delete;
    ParallelGzip& operator=(const ParallelGzip&) = delete;

    void write(const void* data, std::size_t size);
    // Writes what is left and the trailer. Throws kiln::Error (also for a failure of out).
    void finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::image
