#include "image/parallel_gzip.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>

#include "util/error.hpp"

namespace {

using kiln::image::ParallelGzip;
constexpr std::size_t kChunk = ParallelGzip::kChunkSize;

// Text-like bytes (compressible) and random bytes (not), in stretches of `run` bytes.
std::string mixed_bytes(std::size_t size, std::size_t run, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::string out;
    out.reserve(size);
    const std::string words = "layer blob digest registry manifest kiln overlay ";
    bool random = false;
    while (out.size() < size) {
        const std::size_t n = std::min(run, size - out.size());
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(random ? static_cast<char>(rng() & 0xff) : words[(out.size() * 7 + rng() % 3) % words.size()]);
        random = !random;
    }
    return out;
}

std::string gzip_of(const std::string& data, unsigned threads, std::size_t write_size = 1 << 20, int level = -1) {
    std::string out;
    ParallelGzip gz([&](const void* d, std::size_t n) { out.append(static_cast<const char*>(d), n); }, level,
                    threads);
    for (std::size_t pos = 0; pos < data.size(); pos += write_size)
        gz.write(data.data() + pos, std::min(write_size, data.size() - pos));
    gz.finish();
    return out;
}

// Inflates exactly one gzip member that must span all of `gz` (nothing after its trailer).
std::string gunzip_single_member(const std::string& gz) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    char buf[65536];
    int r = Z_OK;
    while (r == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        r = inflate(&z, Z_NO_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
    }
    const uInt left = z.avail_in;
    inflateEnd(&z);
    REQUIRE(r == Z_STREAM_END);  // zlib checked the CRC-32 and length in the trailer
    CHECK(left == 0);
    return out;
}

}  // namespace

TEST_CASE("parallel gzip: one gzip member that inflates to the input, for any size", "[parallel_gzip]") {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, kChunk - 1, kChunk, kChunk + 1, 5 * kChunk + 12345}) {
        INFO("size " << size);
        const std::string data = mixed_bytes(size, 100000, size);
        for (unsigned threads : {1u, 4u}) {
            INFO("threads " << threads);
            const std::string gz = gzip_of(data, threads);
            REQUIRE(gz.size() >= 18);
            CHECK(gz.substr(0, 4) == std::string("\x1f\x8b\x08\x00", 4));
            CHECK(gunzip_single_member(gz) == data);
        }
    }
}

TEST_CASE("parallel gzip: the bytes depend on the input only, not on threads or write sizes", "[parallel_gzip]") {
    const std::string data = mixed_bytes(7 * kChunk + 999, 300000, 7);
    const std::string one = gzip_of(data, 1);
    CHECK(gzip_of(data, 4) == one);
    CHECK(gzip_of(data, 2, 4097) == one);
    CHECK(gzip_of(data, 3, 13) == one);
    CHECK(gzip_of(data, 4, 1) == gzip_of(data, 1, 1));
    CHECK(gzip_of(data, 4, 7, 1) != one);  // the level is part of the bytes
    CHECK(gunzip_single_member(gzip_of(data, 4, 7, 1)) == data);
}

TEST_CASE("parallel gzip: text is deflated, random data is stored, both inflate back", "[parallel_gzip]") {
    const std::string text = mixed_bytes(4 * kChunk, 4 * kChunk, 1);  // all words
    std::string random(4 * kChunk, '\0');
    std::mt19937_64 rng(3);
    for (auto& c : random) c = static_cast<char>(rng() & 0xff);
    const std::string text_gz = gzip_of(text, 4);
    const std::string random_gz = gzip_of(random, 4);
    CHECK(text_gz.size() < text.size() / 2);
    // Stored: 5 bytes per 64 KiB block (under 0.01 %), header, trailer and the final block.
    CHECK(random_gz.size() <= random.size() + random.size() / 10000 + 32);
    CHECK(gunzip_single_member(text_gz) == text);
    CHECK(gunzip_single_member(random_gz) == random);
    // Random bytes repeating within the sampled windows are redundancy the probe sees.
    std::string repeated;
    while (repeated.size() < 2 * kChunk) repeated += random.substr(0, 1000);
    const std::string repeated_gz = gzip_of(repeated, 2);
    CHECK(repeated_gz.size() < repeated.size() / 20);
    CHECK(gunzip_single_member(repeated_gz) == repeated);
}

TEST_CASE("parallel gzip: level 0 stores everything, a bad level is refused", "[parallel_gzip]") {
    const std::string data = mixed_bytes(2 * kChunk + 5, kChunk, 9);
    const std::string stored = gzip_of(data, 2, 1 << 20, 0);
    CHECK(stored.size() > data.size());
    CHECK(gunzip_single_member(stored) == data);
    CHECK_THROWS_AS(ParallelGzip([](const void*, std::size_t) {}, 10, 2), kiln::Error);
}

TEST_CASE("parallel gzip: a failing sink stops the stream with its error and nothing hangs", "[parallel_gzip]") {
    const std::string data = mixed_bytes(9 * kChunk, 200000, 5);
    std::size_t written = 0;
    auto write_all = [&] {
        ParallelGzip gz(
            [&](const void*, std::size_t n) {
                written += n;
                if (written > kChunk) throw std::runtime_error("disk full");
            },
            -1, 4);
        gz.write(data.data(), data.size());
        gz.finish();
    };
    CHECK_THROWS_WITH(write_all(), "disk full");
}
