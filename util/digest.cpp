#include "util/digest.hpp"

#include <fcntl.h>
// SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP, but EVP's first
// digest initialises the library: it reads openssl.cnf and registers every legacy
// algorithm name, ~1.5 ms of each `kiln run` here. The low-level calls reach the same
// assembly (SHA-NI, AVX2) with no initialisation at all.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool valid_hex(std::string_view hex) {
    if (hex.size() != Digest::kSize * 2) return false;
    for (char c : hex)
        if (hex_value(c) < 0) return false;
    return true;
}

}  // namespace

bool Digest::valid(std::string_view text) noexcept {
    constexpr std::string_view prefix = "sha256:";
    return text.substr(0, prefix.size()) == prefix && valid_hex(text.substr(prefix.size()));
}

Digest Digest::parse(std::string_view text) {
    if (!valid(text))
        throw Error("invalid digest \"" + std::string(text.substr(0, 80)) +
                    "\": expected sha256:<64 lowercase hex digits>");
    return from_hex(text.substr(7));
}

Digest Digest::from_hex(std::string_view hex) {
    if (!valid_hex(hex))
        throw Error("invalid sha256 hex \"" + std::string(hex.substr(0, 80)) + "\"");
    std::array<std::uint8_t, kSize> bytes{};
    for (std::size_t i = 0; i < kSize; ++i)
        bytes[i] = static_cast<std::uint8_t>(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    return Digest(bytes);
}

std::string Digest::hex() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(kSize * 2, '0');
    for (std::size_t i = 0; i < kSize; ++i) {
        out[2 * i] = digits[bytes_[i] >> 4];
        out[2 * i + 1] = digits[bytes_[i] & 0xf];
    }
    return out;
}

struct Sha256::Ctx {
    SHA256_CTX sha;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    if (SHA256_Init(&ctx_->sha) != 1) throw Error("sha256: OpenSSL initialisation failed");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size && SHA256_Update(&ctx_->sha, data, size) != 1) throw Error("sha256: update failed");
}

Digest Sha256::finish() {
    std::array<std::uint8_t, Digest::kSize> out{};
    static_assert(Digest::kSize == SHA256_DIGEST_LENGTH);
    if (SHA256_Final(out.data(), &ctx_->sha) != 1) throw Error("sha256: finish failed");
    return Digest(out);
}

Digest sha256_of(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

Digest sha256_of_fd(int fd, const std::string& what) {
    Sha256 h;
    // One buffer per thread, never zeroed: a fresh zero-filled MiB for every file made
    // hashing a context of 100,000 small files spend most of its time in memset.
    constexpr std::size_t kBufferSize = 1 << 20;
    thread_local const std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(kBufferSize);
    char* buf = buffer.get();
    for (;;) {
        ssize_t n = ::read(fd, buf, kBufferSize);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + what);
        }
        if (n == 0) break;
        h.update(buf, static_cast<std::size_t>(n));
    }
    return h.finish();
}

Digest sha256_of_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    return sha256_of_fd(fd.get(), path);
}

}  // namespace kiln
