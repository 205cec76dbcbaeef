// Canonical layer tar writer: a small POSIX ustar/PAX encoder that walks a layer directory
// through directory fds and streams headers and file data through one large buffer into the
// sha256 and the caller's sink.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image/layer_tar.hpp"
#include "image/tar_header.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kBlock = 512;
constexpr std::size_t kBufferSize = 4u << 20;  // output buffer
constexpr std::size_t kMinRead = 1u << 20;     // never read file data in smaller pieces

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
// overlayfs bookkeeping: "trusted.overlay.*", or "user.overlay.*" with the userxattr option
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";
constexpr std::string_view kUserOverlayXattrPrefix = "user.overlay.";

// Buffers the stream and feeds full chunks to the hash and the sink.
class Output {
public:
    Output(const ByteSink& sink, bool hash) : sink_(sink), hashing_(hash), buf_(new char[kBufferSize]) {}

    void write(const void* data, std::size_t n) {
        const char* p = static_cast<const char*>(data);
        while (n > 0) {
            if (used_ == kBufferSize) flush();
            std::size_t take = std::min(n, kBufferSize - used_);
            std::memcpy(buf_.get() + used_, p, take);
            used_ += take;
            p += take;
            n -= take;
        }
    }
    void zeros(std::size_t n) {
        while (n > 0) {
            if (used_ == kBufferSize) flush();
            std::size_t take = std::min(n, kBufferSize - used_);
            std::memset(buf_.get() + used_, 0, take);
            used_ += take;
            n -= take;
        }
    }
    // Free space for a direct read; flushes first if less than kMinRead is free.
    std::pair<char*, std::size_t> reserve() {
        if (kBufferSize - used_ < kMinRead) flush();
        return {buf_.get() + used_, kBufferSize - used_};
    }
    void commit(std::size_t n) { used_ += n; }

    void flush() {
        if (used_ == 0) return;
        if (hashing_) hash_.update(buf_.get(), used_);
        if (sink_) sink_(buf_.get(), used_);
        total_ += used_;
        used_ = 0;
    }
    TarStats finish() {
        flush();
        return TarStats{hashing_ ? hash_.finish() : Digest{}, total_};
    }

private:
    const ByteSink& sink_;
    bool hashing_;
    std::unique_ptr<char[]> buf_;
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
    Sha256 hash_;
};

// Writes v as zero-padded octal into field[0..width-1) followed by NUL; false if it does
// not fit.
bool put_octal(char* field, std::size_t width, std::uint64_t v) {
    std::size_t digits = width - 1;
    field[digits] = '\0';
    for (std::size_t i = digits; i-- > 0;) {
        field[i] = static_cast<char>('0' + (v & 7));
        v >>= 3;
    }
    return v == 0;
}

// GNU base-256 encoding for numbers that do not fit in octal (device numbers only).
void put_base256(char* field, std::size_t width, std::uint64_t v) {
    for (std::size_t i = width; i-- > 1;) {
        field[i] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    field[0] = static_cast<char>(0x80);
}

using Entry = TarHeader;

void append_record(std::string& out, std::string_view key, std::string_view value) {
    // "<len> <key>=<value>\n" where len counts the whole record, itself included.
    std::size_t body = 1 + key.size() + 1 + value.size() + 1;
    std::size_t len = body + 1;
    while (std::to_string(len).size() + body != len) ++len;
    out += std::to_string(len);
    out += ' ';
    out += key;
    out += '=';
    out += value;
    out += '\n';
}

void checksum(char* block) {
    std::memset(block + 148, ' ', 8);
    unsigned sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(block[i]);
    put_octal(block + 148, 7, sum);  // 6 digits + NUL, then the space stays
    block[155] = ' ';
}

void append_pax_header(std::string& out, const std::string& name, const std::string& records) {
    // Header name like Go's archive/tar: "<dir>/PaxHeaders.0/<base>", truncated.
    std::string_view n(name);
    while (!n.empty() && n.back() == '/') n.remove_suffix(1);
    auto slash = n.rfind('/');
    std::string hname = slash == std::string_view::npos
                            ? "PaxHeaders.0/" + std::string(n)
                            : std::string(n.substr(0, slash)) + "/PaxHeaders.0/" +
                                  std::string(n.substr(slash + 1));
    if (hname.size() > 100) hname.resize(100);
    char block[kBlock];
    std::memset(block, 0, sizeof block);
    std::memcpy(block, hname.data(), hname.size());
    put_octal(block + 100, 8, 0644);
    put_octal(block + 108, 8, 0);
    put_octal(block + 116, 8, 0);
    put_octal(block + 124, 12, records.size());
    put_octal(block + 136, 12, 0);
    block[156] = 'x';
    std::memcpy(block + 257, "ustar\0" "00", 8);
    put_octal(block + 329, 8, 0);
    put_octal(block + 337, 8, 0);
    checksum(block);
    out.append(block, kBlock);
    out += records;
    out.append(tar_padding(records.size()), '\0');
}

}  // namespace

void append_tar_header(std::string& out, const TarHeader& e) {
    std::string pax;
    char block[kBlock];
    std::memset(block, 0, sizeof block);

    // name / prefix split, else PAX path
    const std::string& name = e.name;
    if (name.size() <= 100) {
        std::memcpy(block, name.data(), name.size());
    } else {
        bool split = false;
        if (name.size() <= 256) {
            // the prefix must end at a '/', be at most 155 bytes, the rest at most 100
            std::size_t limit = std::min<std::size_t>(155, name.size() - 1);
            for (std::size_t i = limit; i > 0; --i) {
                if (name[i] != '/') continue;
                if (name.size() - i - 1 == 0) continue;  // a directory's trailing '/'
                if (name.size() - i - 1 > 100) break;
                std::memcpy(block + 345, name.data(), i);
                std::memcpy(block, name.data() + i + 1, name.size() - i - 1);
                split = true;
                break;
            }
        }
        if (!split) {
            append_record(pax, "path", name);
            std::memcpy(block, name.data(), 100);
        }
    }
    if (e.linkname.size() <= 100) {
        std::memcpy(block + 157, e.linkname.data(), e.linkname.size());
    } else {
        append_record(pax, "linkpath", e.linkname);
        std::memcpy(block + 157, e.linkname.data(), 100);
    }
    put_octal(block + 100, 8, e.mode & 07777);
    if (!put_octal(block + 108, 8, e.uid)) {
        append_record(pax, "uid", std::to_string(e.uid));
        put_octal(block + 108, 8, 0);
    }
    if (!put_octal(block + 116, 8, e.gid)) {
        append_record(pax, "gid", std::to_string(e.gid));
        put_octal(block + 116, 8, 0);
    }
    if (!put_octal(block + 124, 12, e.size)) {
        append_record(pax, "size", std::to_string(e.size));
        put_octal(block + 124, 12, 0);
    }
    if (e.mtime < 0 || !put_octal(block + 136, 12, static_cast<std::uint64_t>(e.mtime))) {
        append_record(pax, "mtime", std::to_string(e.mtime));
        put_octal(block + 136, 12, 0);
    }
    block[156] = e.type;
    std::memcpy(block + 257, "ustar\0" "00", 8);
    if (e.type == '3' || e.type == '4') {
        if (!put_octal(block + 329, 8, e.devmajor)) put_base256(block + 329, 8, e.devmajor);
        if (!put_octal(block + 337, 8, e.devminor)) put_base256(block + 337, 8, e.devminor);
    } else {
        put_octal(block + 329, 8, 0);
        put_octal(block + 337, 8, 0);
    }
    for (const auto& x : e.xattrs) {
        std::string key = "SCHILY.xattr.";
        key += x.name;
        append_record(pax, key, x.value);
    }
    if (!pax.empty()) append_pax_header(out, e.name, pax);
    checksum(block);
    out.append(block, kBlock);
}

namespace {

class TarWriter {
public:
    TarWriter(const ByteSink& sink, bool hash) : out_(sink, hash) {}

    void header(const Entry& e) {
        std::string blocks;
        append_tar_header(blocks, e);
        out_.write(blocks.data(), blocks.size());
    }

    Output& out() { return out_; }
    void pad(std::uint64_t size) {
        std::size_t rem = static_cast<std::size_t>(size % kBlock);
        if (rem) out_.zeros(kBlock - rem);
    }
    TarStats finish() {
        out_.zeros(2 * kBlock);
        return out_.finish();
    }

private:
    Output out_;
};

std::string proc_path(int dirfd, const char* name) {
    std::string p = "/proc/self/fd/" + std::to_string(dirfd);
    if (name) {
        p += '/';
        p += name;
    }
    return p;
}

// Reads all xattrs (except trusted.overlay.*), sorted by name. fd >= 0 uses f*xattr,
// otherwise the path is used without following a final symlink.
std::vector<TarXattr> read_xattrs(int fd, const std::string& path, std::string& opaque,
                               const std::string& what) {
    std::vector<TarXattr> out;
    std::string names(256, '\0');
    ssize_t n;
    for (;;) {
        n = fd >= 0 ? ::flistxattr(fd, names.data(), names.size())
                    : ::llistxattr(path.c_str(), names.data(), names.size());
        if (n >= 0) break;
        if (errno == ERANGE) {
            names.resize(names.size() * 4);
            continue;
        }
        if (errno == ENOTSUP || errno == EPERM) return out;
        throw_errno("list xattrs of " + what);
    }
    names.resize(static_cast<std::size_t>(n));
    std::size_t pos = 0;
    while (pos < names.size()) {
        std::size_t end = names.find('\0', pos);
        if (end == std::string::npos) end = names.size();
        std::string name = names.substr(pos, end - pos);
        pos = end + 1;
        if (name.empty()) continue;
        std::string value(64, '\0');
        ssize_t m;
        for (;;) {
            m = fd >= 0 ? ::fgetxattr(fd, name.c_str(), value.data(), value.size())
                        : ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
            if (m >= 0) break;
            if (errno == ERANGE) {
                value.resize(value.size() * 4);
                if (value.size() > (1u << 20)) throw Error("xattr " + name + " of " + what + " is too large");
                continue;
            }
            if (errno == ENODATA) break;
            throw_errno("read xattr " + name + " of " + what);
        }
        if (m < 0) continue;
        value.resize(static_cast<std::size_t>(m));
        if (name.compare(0, kOverlayXattrPrefix.size(), kOverlayXattrPrefix) == 0 ||
            name.compare(0, kUserOverlayXattrPrefix.size(), kUserOverlayXattrPrefix) == 0) {
            if (name == "trusted.overlay.opaque" || name == "user.overlay.opaque") opaque = value;
            continue;
        }
        out.push_back({std::move(name), std::move(value)});
    }
    std::sort(out.begin(), out.end(), [](const TarXattr& a, const TarXattr& b) { return a.name < b.name; });
    return out;
}

struct InodeKey {
    dev_t dev;
    ino_t ino;
    friend auto operator<=>(const InodeKey&, const InodeKey&) = default;
};

class Walker {
public:
    Walker(TarWriter& tar, std::string root, const TarWriteOptions& options)
        : tar_(tar), root_(std::move(root)), options_(options) {}

    void walk_dir(int dirfd, const std::string& prefix) {
        std::vector<std::string> names = list(dirfd, prefix);
        std::sort(names.begin(), names.end());
        for (const auto& name : names) entry(dirfd, prefix, name);
    }

    // One entry of dirfd (a directory with everything beneath it) written as archive_name.
    void entry(int dirfd, const std::string& prefix, const std::string& name, const std::string& archive_name) {
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            throw_errno("stat " + where(prefix + name));
        Entry& e = scratch_;
        e.name.assign(prefix).append(archive_name);
        entry_body(dirfd, prefix, name, st);
    }

private:
    std::vector<std::string> list(int dirfd, const std::string& prefix) {
        int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dup < 0) throw_errno("open " + where(prefix));
        std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup), ::closedir);
        if (!dir) {
            ::close(dup);
            throw_errno("open " + where(prefix));
        }
        std::vector<std::string> names;
        for (;;) {
            errno = 0;
            dirent* d = ::readdir(dir.get());
            if (!d) {
                if (errno) throw_errno("read directory " + where(prefix));
                break;
            }
            const char* n = d->d_name;
            if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
            names.emplace_back(n);
        }
        return names;
    }

    std::string where(const std::string& rel) const { return root_ + "/" + rel; }

    void entry(int dirfd, const std::string& prefix, const std::string& name) { entry(dirfd, prefix, name, name); }

    void entry_body(int dirfd, const std::string& prefix, const std::string& name, const struct stat& st) {
        Entry& e = scratch_;
        if (options_.skip && options_.skip(e.name, st)) return;
        e.mode = st.st_mode & 07777;
        e.uid = st.st_uid;
        e.gid = st.st_gid;
        e.mtime = st.st_mtim.tv_sec;
        if (options_.clamp_mtime && e.mtime > *options_.clamp_mtime) e.mtime = *options_.clamp_mtime;
        e.size = 0;
        e.devmajor = e.devminor = 0;
        e.linkname.clear();
        e.xattrs.clear();
        std::string opaque;

        switch (st.st_mode & S_IFMT) {
        case S_IFREG: {
            if (st.st_nlink > 1) {
                auto [it, fresh] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, e.name);
                if (!fresh) {
                    e.type = '1';
                    e.linkname = it->second;  // xattrs live on the first entry
                    tar_.header(e);
                    return;
                }
            }
            e.type = '0';
            e.size = static_cast<std::uint64_t>(st.st_size);
            UniqueFd fd;
            if (e.size > 0) {
                fd.reset(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
                if (!fd) throw_errno("open " + where(e.name));
                e.xattrs = read_xattrs(fd.get(), {}, opaque, where(e.name));
            } else {
                e.xattrs = read_xattrs(-1, proc_path(dirfd, name.c_str()), opaque, where(e.name));
            }
            tar_.header(e);
            if (e.size > 0) copy_data(fd.get(), e.size, e.name);
            return;
        }
        case S_IFDIR: {
            UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) throw_errno("open " + where(e.name));
            e.type = '5';
            e.name += '/';
            e.xattrs = read_xattrs(fd.get(), {}, opaque, where(e.name));
            tar_.header(e);
            std::string child_prefix = e.name;
            if (opaque == "y" && !options_.merged) {
                Entry& o = e;  // reuse: the directory's header is already written
                o.name = child_prefix;
                o.name += kOpaqueMarker;
                o.type = '0';
                o.mode = 0;
                o.xattrs.clear();
                tar_.header(o);
            }
            walk_dir(fd.get(), child_prefix);
            return;
        }
        case S_IFLNK: {
            e.type = '2';
            std::string target(256, '\0');
            for (;;) {
                ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
                if (n < 0) throw_errno("readlink " + where(e.name));
                if (static_cast<std::size_t>(n) < target.size()) {
                    target.resize(static_cast<std::size_t>(n));
                    break;
                }
                target.resize(target.size() * 4);
            }
            e.linkname = std::move(target);
            e.xattrs = read_xattrs(-1, proc_path(dirfd, name.c_str()), opaque, where(e.name));
            tar_.header(e);
            return;
        }
        case S_IFCHR:
        case S_IFBLK: {
            if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                if (options_.merged) return;
                // overlay whiteout → ".wh.NAME", an empty regular file
                e.type = '0';
                e.name.assign(prefix).append(kWhiteoutPrefix).append(name);
                e.mode = 0;
                tar_.header(e);
                return;
            }
            e.type = S_ISCHR(st.st_mode) ? '3' : '4';
            e.devmajor = major(st.st_rdev);
            e.devminor = minor(st.st_rdev);
            e.xattrs = read_xattrs(-1, proc_path(dirfd, name.c_str()), opaque, where(e.name));
            tar_.header(e);
            return;
        }
        case S_IFIFO:
            e.type = '6';
            e.xattrs = read_xattrs(-1, proc_path(dirfd, name.c_str()), opaque, where(e.name));
            tar_.header(e);
            return;
        default:
            return;  // sockets cannot be archived; like docker, leave them out
        }
    }

    void copy_data(int fd, std::uint64_t size, const std::string& name) {
        Output& out = tar_.out();
        std::uint64_t left = size;
        while (left > 0) {
            auto [buf, cap] = out.reserve();
            std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(cap, left));
            ssize_t n = ::read(fd, buf, want);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("read " + where(name));
            }
            if (n == 0) throw Error("file " + where(name) + " shrank while it was being archived");
            out.commit(static_cast<std::size_t>(n));
            left -= static_cast<std::uint64_t>(n);
        }
        tar_.pad(size);
    }

    TarWriter& tar_;
    std::string root_;
    TarWriteOptions options_;
    Entry scratch_;
    std::map<InodeKey, std::string> links_;
};

}  // namespace

TarStats write_layer_tar(const std::string& dir, const ByteSink& sink, const TarWriteOptions& options) {
    UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open layer directory " + dir);
    TarWriter tar(sink, options.hash);
    Walker walker(tar, dir, options);
    walker.walk_dir(root.get(), "");
    return tar.finish();
}

TarStats write_layer_tar(const std::string& dir, const ByteSink& sink) {
    return write_layer_tar(dir, sink, TarWriteOptions{});
}

TarStats write_entry_tar(int parent_fd, const std::string& name, const std::string& archive_name,
                         const std::string& display_name, const ByteSink& sink, const TarWriteOptions& options) {
    TarWriter tar(sink, options.hash);
    Walker walker(tar, display_name, options);
    walker.entry(parent_fd, "", name, archive_name);
    return tar.finish();
}

}  // namespace kiln::image
