#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kiln {

// A sha256 content digest: the one digest type of kiln. Printed as "sha256:<64 hex>".
class Digest {
public:
    static constexpr std::size_t kSize = 32;

    Digest() = default;
    explicit Digest(const std::array<std::uint8_t, kSize>& bytes) : bytes_(bytes), set_(true) {}

    // Parses "sha256:<64 lowercase hex>"; throws kiln::Error on anything else.
    static Digest parse(std::string_view text);
    // Parses a bare 64-character lowercase hex string.
    static Digest from_hex(std::string_view hex);
    static bool valid(std::string_view text) noexcept;

    std::string hex() const;
    std::string str() const { return "sha256:" + hex(); }
    // Short form for listings (first 12 hex characters), as docker prints ids.
    std::string short_hex() const { return hex().substr(0, 12); }
    bool empty() const noexcept { return !set_; }
    const std::array<std::uint8_t, kSize>& bytes() const noexcept { return bytes_; }

    friend bool operator==(const Digest&, const Digest&) = default;
    friend auto operator<=>(const Digest&, const Digest&) = default;

private:
    std::array<std::uint8_t, kSize> bytes_{};
    bool set_ = false;
};

// Incremental sha256 (OpenSSL EVP).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, std::size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    // Finishes and returns the digest; the hasher may not be updated afterwards.
    Digest finish();

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};

Digest sha256_of(std::string_view data);
// Digest of a file's bytes, read from the path (not following a final symlink is the
// caller's business: pass a path you trust).
Digest sha256_of_file(const std::string& path);
// Digest of everything left to read from fd (read in 1 MiB chunks).
Digest sha256_of_fd(int fd, const std::string& what);

}  // namespace kiln

template <>
struct std::hash<kiln::Digest> {
    std::size_t operator()(const kiln::Digest& d) const noexcept {
        std::size_t h;
        static_assert(sizeof(h) <= kiln::Digest::kSize);
        __builtin_memcpy(&h, d.bytes().data(), sizeof(h));
        return h;
    }
};
