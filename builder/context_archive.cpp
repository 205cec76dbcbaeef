#include "builder/context_archive.hpp"

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include "image/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

constexpr std::size_t kTarMagicOffset = 257;
constexpr std::size_t kHeadSize = 512;

bool starts_with_bytes(std::string_view head, std::initializer_list<unsigned char> magic) {
    return head.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), head.begin(),
                      [](unsigned char m, char c) { return m == static_cast<unsigned char>(c); });
}

}  // namespace

bool looks_like_context_archive(std::string_view head) {
    if (head.size() >= kTarMagicOffset + 5 && head.substr(kTarMagicOffset, 5) == "ustar") return true;
    return starts_with_bytes(head, {0x1f, 0x8b}) || starts_with_bytes(head, {'B', 'Z', 'h'}) ||
           starts_with_bytes(head, {0xfd, '7', 'z', 'X', 'Z', 0x00}) ||
           starts_with_bytes(head, {0x28, 0xb5, 0x2f, 0xfd});
}

StreamContext read_stream_context(int fd, const std::string& name, const std::string& scratch_parent,
                                  bool allow_dockerfile, std::size_t max_dockerfile) {
    // The head decides what the stream is; it is then given back to the reader first.
    std::string head(kHeadSize, '\0');
    std::size_t have = 0;
    while (have < head.size()) {
        std::size_t n = read_some(fd, head.data() + have, head.size() - have, name);
        if (n == 0) break;
        have += n;
    }
    head.resize(have);
    StreamContext out;
    if (!looks_like_context_archive(head)) {
        if (!allow_dockerfile) throw Error(name + ": not a tar archive (plain, gzip, bzip2, xz or zstd)");
        std::string text = head;
        char buf[65536];
        while (std::size_t n = read_some(fd, buf, sizeof buf, name)) {
            if (text.size() + n > max_dockerfile)
                throw Error(name + ": Dockerfile larger than " + std::to_string(max_dockerfile >> 20) + " MiB");
            text.append(buf, n);
        }
        out.dockerfile_text = std::move(text);
        out.dir = std::make_unique<image::StagingDir>(scratch_parent, "build-context-");
        return out;
    }
    out.dir = std::make_unique<image::StagingDir>(scratch_parent, "build-context-");
    UniqueFd dest = open_directory(out.dir->path());
    std::size_t head_used = 0;
    image::ByteSource source = [&](void* buf, std::size_t cap) -> std::size_t {
        if (head_used < head.size()) {
            std::size_t n = std::min(cap, head.size() - head_used);
            std::memcpy(buf, head.data() + head_used, n);
            head_used += n;
            return n;
        }
        return read_some(fd, buf, cap, name);
    };
    image::ExtractOptions options;
    options.layer = false;  // a context is plain files: ".wh." names are names
    try {
        image::extract_tar_into(dest.get(), "the build context", source, options);
    } catch (const Error& e) {
        throw Error("build context " + name + ": " + e.what());
    }
    return out;
}

}  // namespace kiln::builder
