#include "image/tar_index.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "image/tar_header.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr int kMaxLinkHops = 16;
constexpr std::uint64_t kMaxLongName = 1u << 16;  // a PAX or GNU name record, at most

void read_exact(int fd, void* buf, std::size_t n, std::uint64_t offset) {
    char* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
        if (got < 0) {
            if (errno == EINTR) continue;
            throw_errno("read the archive");
        }
        if (got == 0) throw Error("the archive is truncated at byte " + std::to_string(offset));
        p += got;
        n -= static_cast<std::size_t>(got);
        offset += static_cast<std::uint64_t>(got);
    }
}

// A numeric header field: octal (space or NUL terminated), or GNU base-256.
std::uint64_t parse_number(const char* field, std::size_t width, const char* what) {
    const auto* u = reinterpret_cast<const unsigned char*>(field);
    if (u[0] & 0x80) {
        if (u[0] != 0x80) throw Error(std::string("archive header has a negative ") + what);
        std::uint64_t v = 0;
        for (std::size_t i = 1; i < width; ++i) {
            if (v >> 56) throw Error(std::string("archive header has an oversized ") + what);
            v = (v << 8) | u[i];
        }
        return v;
    }
    std::uint64_t v = 0;
    std::size_t i = 0;
    while (i < width && field[i] == ' ') ++i;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
        if (v >> 60) throw Error(std::string("archive header has an oversized ") + what);
        v = v * 8 + static_cast<std::uint64_t>(field[i] - '0');
    }
    if (i < width && field[i] != ' ' && field[i] != '\0')
        throw Error(std::string("archive header has a malformed ") + what);
    return v;
}

bool checksum_ok(const char* block) {
    std::uint64_t want = parse_number(block + 148, 8, "checksum");
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kTarBlock; ++i)
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
    return sum == want;
}

std::string field_string(const char* field, std::size_t width) {
    return std::string(field, strnlen(field, width));
}

// PAX records "<len> <key>=<value>\n": only path, linkpath and size matter for an index.
// size: UINT64_MAX when the records do not set it.
void parse_pax(std::string_view records, std::optional<std::string>& path, std::optional<std::string>& link,
               std::uint64_t& size) {
    while (!records.empty()) {
        auto space = records.find(' ');
        if (space == std::string_view::npos || space == 0) throw Error("archive has a malformed PAX header");
        std::uint64_t len = 0;
        for (char c : records.substr(0, space)) {
            if (c < '0' || c > '9' || len > kMaxLongName) throw Error("archive has a malformed PAX header");
            len = len * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (len <= space + 1 || len > records.size() || records[len - 1] != '\n')
            throw Error("archive has a malformed PAX header");
        std::string_view rec = records.substr(space + 1, len - space - 2);
        records.remove_prefix(len);
        auto eq = rec.find('=');
        if (eq == std::string_view::npos) throw Error("archive has a malformed PAX record");
        std::string_view key = rec.substr(0, eq), value = rec.substr(eq + 1);
        if (key == "path") path = std::string(value);
        else if (key == "linkpath") link = std::string(value);
        else if (key == "size") {
            std::uint64_t v = 0;
            for (char c : value) {
                if (c < '0' || c > '9' || v > (std::uint64_t{1} << 56)) throw Error("archive has a malformed PAX size");
                v = v * 10 + static_cast<std::uint64_t>(c - '0');
            }
            size = v;
        }
    }
}

}  // namespace

std::string clean_member_name(const std::string& name) {
    std::string c = clean_path("/" + name);
    return c == "/" ? std::string() : c.substr(1);
}

TarIndex TarIndex::read(int fd, std::uint64_t file_size) {
    TarIndex index;
    std::uint64_t pos = 0;
    std::optional<std::string> long_name, long_link;
    constexpr std::uint64_t kUnset = ~std::uint64_t{0};
    std::uint64_t pax_size = kUnset;
    char block[kTarBlock];
    while (pos + kTarBlock <= file_size) {
        read_exact(fd, block, kTarBlock, pos);
        if (std::all_of(block, block + kTarBlock, [](char c) { return c == 0; })) return index;
        if (!checksum_ok(block))
            throw Error("the archive is not a tar file or is corrupt (bad header checksum at byte " +
                        std::to_string(pos) + ")");
        const char type = block[156];
        std::uint64_t size = parse_number(block + 124, 12, "size");
        if (pax_size != kUnset && type != 'x' && type != 'L' && type != 'K') size = pax_size;
        const std::uint64_t data = pos + kTarBlock;
        const std::uint64_t padded = size + tar_padding(size);
        if (size > file_size || data + size > file_size)
            throw Error("the archive is truncated: entry at byte " + std::to_string(pos) + " claims " +
                        std::to_string(size) + " bytes, but the file ends at " + std::to_string(file_size));
        pos = data + padded;

        if (type == 'x' || type == 'L' || type == 'K') {
            if (size > kMaxLongName) throw Error("the archive has an oversized extended header");
            std::string body(size, '\0');
            read_exact(fd, body.data(), size, data);
            if (type == 'x') {
                parse_pax(body, long_name, long_link, pax_size);
            } else {
                body.resize(strnlen(body.data(), body.size()));
                (type == 'L' ? long_name : long_link) = body;
            }
            continue;
        }
        if (type == 'g') continue;  // global PAX defaults: nothing an index needs

        std::string name = long_name.value_or("");
        if (!long_name) {
            name = field_string(block, 100);
            if (std::memcmp(block + 257, "ustar", 5) == 0) {
                std::string prefix = field_string(block + 345, 155);
                if (!prefix.empty()) name = prefix + "/" + name;
            }
        }
        TarMember m;
        m.type = type == '\0' || type == '7' ? '0' : type;
        m.offset = data;
        m.size = (m.type == '0') ? size : 0;
        m.link = long_link.value_or(field_string(block + 157, 100));
        long_name.reset();
        long_link.reset();
        pax_size = kUnset;

        std::string key = clean_member_name(name);
        if (key.empty()) continue;
        auto [it, fresh] = index.members_.emplace(key, m);
        if (!fresh) {
            // Two directory entries for one folder are harmless; two files are ambiguous.
            if (m.type == '5' && it->second.type == '5') continue;
            throw Error("the archive has two entries named " + key);
        }
    }
    if (pos < file_size && file_size - pos < kTarBlock)
        throw Error("the archive is truncated (it ends inside a header)");
    if (pos > file_size) throw Error("the archive is truncated");
    return index;  // no end-of-archive blocks: tolerated, as GNU tar and Go do
}

const TarMember* TarIndex::find(const std::string& name) const {
    auto it = members_.find(clean_member_name(name));
    return it == members_.end() ? nullptr : &it->second;
}

std::optional<std::pair<std::string, TarMember>> TarIndex::resolve(const std::string& name) const {
    std::string cur = clean_member_name(name);
    for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
        auto it = members_.find(cur);
        if (it == members_.end()) return std::nullopt;
        const TarMember& m = it->second;
        if (m.type == '0') return std::make_pair(cur, m);
        if (m.type == '1') {
            cur = clean_member_name(m.link);
        } else if (m.type == '2') {
            auto slash = cur.rfind('/');
            std::string dir = slash == std::string::npos ? "" : cur.substr(0, slash);
            cur = clean_member_name(!m.link.empty() && m.link[0] == '/' ? m.link : dir + "/" + m.link);
        } else {
            return std::nullopt;
        }
    }
    throw Error("the archive entry " + name + " is a chain of more than " + std::to_string(kMaxLinkHops) + " links");
}

}  // namespace kiln::image
