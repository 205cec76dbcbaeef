// Safe layer tar extraction. Two libarchive readers run in one pass: a "raw" reader undoes
// any compression and hands the plain tar bytes to a hashing callback, which feeds a second,
// tar-only reader. Every filesystem operation goes through directory fds resolved inside
// dest (openat2 RESOLVE_IN_ROOT), and the final component is never followed.
#include <archive.h>
#include <dirent.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image/layer_tar.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/dir_list.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kReadBlock = 1u << 20;
constexpr std::int64_t kMaxEntrySize = std::int64_t{1} << 40;  // 1 TiB
constexpr std::size_t kMaxPath = 4096;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMeta = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

struct ArchiveDeleter {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    if (s.size() > 200) out += "...";
    return out;
}

[[noreturn]] void archive_fail(archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    throw Error(what + ": " + (msg ? printable(msg) : std::string("unknown libarchive error")));
}

// The decompressing reader and the hash of what it produces.
struct Source {
    archive* raw = nullptr;
    Sha256 hash;
    std::uint64_t size = 0;
    bool eof = false;
    const ByteSink* tee = nullptr;

    // Next block of uncompressed bytes; size 0 at the end.
    la_ssize_t next(const void** buf) {
        if (eof) return 0;
        size_t len = 0;
        la_int64_t off = 0;
        int r = archive_read_data_block(raw, buf, &len, &off);
        if (r == ARCHIVE_EOF) {
            eof = true;
            return 0;
        }
        if (r < ARCHIVE_WARN) return -1;
        hash.update(*buf, len);
        if (tee && *tee) (*tee)(*buf, len);
        size += len;
        return static_cast<la_ssize_t>(len);
    }
};

la_ssize_t tar_read_callback(archive* tar, void* data, const void** buf) {
    auto* src = static_cast<Source*>(data);
    la_ssize_t n = src->next(buf);
    if (n < 0) {
        const char* msg = archive_error_string(src->raw);
        archive_set_error(tar, EIO, "%s", msg ? msg : "decompression failed");
    }
    return n;
}

// Splits a cleaned relative path "a/b/c" into ("a/b", "c").
std::pair<std::string, std::string> split(const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return {std::string(), rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Removes name (a file, or a directory tree) beneath dirfd without following symlinks.
void remove_at(int dirfd, const std::string& name, const std::string& what) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
    if (errno != EISDIR && errno != EPERM) throw_errno("remove " + what);
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("remove " + what);
    for (const auto& n : list_names(fd.get(), what)) remove_at(fd.get(), n, what + "/" + n);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        throw_errno("remove " + what);
}

// Directory metadata applied after all entries: times (creating content changes them) and,
// when not root, modes that would stop us from creating the content.
struct DirTime {
    std::string rel;
    timespec mtime;
    mode_t perm;
    bool fix_mode;
};

class Extractor {
public:
    Extractor(const std::string& dest, UniqueFd root, const ExtractOptions& options)
        : dest_(dest), root_(std::move(root)), options_(options) {
        is_root_ = ::geteuid() == 0;
        fresh_ = options_.layer && list_names(root_.get(), dest_).empty();
    }

    void entry(archive* tar, archive_entry* ent) {
        const char* raw_name = archive_entry_pathname(ent);
        if (!raw_name || !*raw_name) throw Error("layer tar has an entry without a name");
        std::string_view name(raw_name);
        if (name.size() > kMaxPath)
            throw Error("layer tar entry name is too long (" + std::to_string(name.size()) + " bytes)");
        std::int64_t size = archive_entry_size(ent);
        if (size < 0 || size > kMaxEntrySize)
            throw Error("layer tar entry " + printable(name) + " has an absurd size " +
                        std::to_string(size));

        std::string rel = clean_path("/" + std::string(name));
        rel.erase(0, 1);  // "" is the root itself
        const mode_t type = archive_entry_filetype(ent);
        const char* hardlink = archive_entry_hardlink(ent);

        if (rel.empty()) {
            if (type == AE_IFDIR && !hardlink) root_entry(ent);
            return;
        }
        auto [parent, base] = split(rel);

        if (options_.layer && base == kOpaqueMarker) {
            int dirfd = dir(parent);
            UniqueFd fd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!fd) throw_errno("open " + where(parent));
            if (::fsetxattr(fd.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
                throw_errno("mark " + where(parent) + " opaque (needs root)");
            return;
        }
        if (options_.layer && starts_with(base, kWhiteoutMeta)) return;  // aufs bookkeeping, not content
        if (options_.layer && starts_with(base, kWhiteoutPrefix)) {
            std::string victim = base.substr(kWhiteoutPrefix.size());
            if (victim.empty() || victim == "." || victim == "..")
                throw Error("layer tar has an invalid whiteout " + printable(name));
            int dirfd = dir(parent);
            struct stat vst;
            if (::fstatat(dirfd, victim.c_str(), &vst, AT_SYMLINK_NOFOLLOW) == 0) {
                // Into a fresh directory, whatever exists came from this layer, and a
                // whiteout never hides entries of its own layer.
                if (fresh_) return;
                remove_existing(dirfd, victim, join(parent, victim));
            }
            if (::mknodat(dirfd, victim.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
                throw_errno("create whiteout " + where(join(parent, victim)) + " (needs root)");
            finish_metadata(dirfd, victim, join(parent, victim), ent, -1, false);
            return;
        }

        int dirfd = dir(parent);
        struct stat st;
        bool exists = ::fstatat(dirfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && S_ISDIR(st.st_mode) && (hardlink || type != AE_IFDIR) && !options_.layer)
            throw Error("cannot overwrite directory " + printable(where(rel)) + " with non-directory");
        if (hardlink) {
            if (exists) remove_existing(dirfd, base, rel);
            make_hardlink(dirfd, base, rel, hardlink);
            return;
        }
        switch (type) {
        case AE_IFDIR: {
            if (exists && !S_ISDIR(st.st_mode)) {
                remove_existing(dirfd, base, rel);
                exists = false;
            }
            if (!exists && ::mkdirat(dirfd, base.c_str(), 0700) != 0) throw_errno("create " + where(rel));
            UniqueFd fd(::openat(dirfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) throw_errno("open " + where(rel));
            finish_metadata(dirfd, base, rel, ent, fd.get(), true);
            const mode_t perm = archive_entry_perm(ent) & 07777;
            dir_times_.push_back({rel, mtime_of(ent), perm, !is_root_ && (perm & 0700) != 0700});
            return;
        }
        case AE_IFREG: {
            if (exists) remove_existing(dirfd, base, rel);
            UniqueFd fd(::openat(dirfd, base.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!fd) throw_errno("create " + where(rel));
            write_data(tar, fd.get(), size, rel);
            finish_metadata(dirfd, base, rel, ent, fd.get(), false);
            return;
        }
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(ent);
            if (!target) target = "";
            if (std::strlen(target) > kMaxPath)
                throw Error("symlink target of " + printable(name) + " is too long");
            if (exists) remove_existing(dirfd, base, rel);
            if (::symlinkat(target, dirfd, base.c_str()) != 0) throw_errno("create symlink " + where(rel));
            finish_metadata(dirfd, base, rel, ent, -1, false);
            return;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
            if (type != AE_IFIFO && !is_root_) return;  // devices need root: skip
            if (exists) remove_existing(dirfd, base, rel);
            dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(ent);
            mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
            if (::mknodat(dirfd, base.c_str(), kind | 0600, dev) != 0) throw_errno("create " + where(rel));
            finish_metadata(dirfd, base, rel, ent, -1, false);
            return;
        }
        default:
            return;  // sockets and unknown types are not layer content
        }
    }

    void finish() {
        // Directories last, deepest first, so creating their content does not undo it.
        for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
            auto [parent, base] = split(it->rel);
            UniqueFd pfd;
            try {
                pfd = open_in_root(root_.get(), parent, O_PATH | O_DIRECTORY);
            } catch (const Error&) {
                continue;  // removed by a later entry
            }
            if (it->fix_mode) {
                UniqueFd dfd(::openat(pfd.get(), base.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (dfd) ::chmod(("/proc/self/fd/" + std::to_string(dfd.get())).c_str(), it->perm);
            }
            timespec ts[2] = {it->mtime, it->mtime};
            ::utimensat(pfd.get(), base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
        }
        if (root_time_) {
            timespec ts[2] = {*root_time_, *root_time_};
            if (::futimens(root_.get(), ts) != 0) throw_errno("set times of " + dest_);
        }
    }

private:
    static timespec mtime_of(archive_entry* ent) {
        timespec ts{};
        ts.tv_sec = archive_entry_mtime(ent);
        ts.tv_nsec = archive_entry_mtime_is_set(ent) ? archive_entry_mtime_nsec(ent) : 0;
        return ts;
    }

    static std::string join(const std::string& parent, const std::string& base) {
        return parent.empty() ? base : parent + "/" + base;
    }
    std::string where(const std::string& rel) const { return dest_ + "/" + rel; }

    void root_entry(archive_entry* ent) {
        const uid_t uid = options_.owner ? options_.owner->first : static_cast<uid_t>(archive_entry_uid(ent));
        const gid_t gid = options_.owner ? options_.owner->second : static_cast<gid_t>(archive_entry_gid(ent));
        if (is_root_ && ::fchown(root_.get(), uid, gid) != 0)
            throw_errno("chown " + dest_);
        if (::fchmod(root_.get(), archive_entry_perm(ent) & 07777) != 0) throw_errno("chmod " + dest_);
        root_time_ = mtime_of(ent);
    }

    void remove_existing(int dirfd, const std::string& base, const std::string& rel) {
        remove_at(dirfd, base, where(rel));
        cache_stale_ = true;  // dirfd stays valid for this entry; the next one re-resolves
    }

    // The directory rel (cleaned, relative), resolved inside dest; missing directories are
    // created. The fd is borrowed: valid until the next call.
    int dir(const std::string& rel) {
        if (cache_stale_) {
            cached_fd_.reset();
            cache_stale_ = false;
        }
        if (rel.empty()) return root_.get();
        if (cached_fd_ && rel == cached_rel_) return cached_fd_.get();
        UniqueFd fd = open_or_create(rel);
        cached_fd_ = std::move(fd);
        cached_rel_ = rel;
        return cached_fd_.get();
    }

    UniqueFd open_or_create(const std::string& rel) {
        try {
            return open_in_root(root_.get(), rel, O_PATH | O_DIRECTORY);
        } catch (const Error&) {
        }
        auto [parent, base] = split(rel);
        UniqueFd pfd = parent.empty() ? UniqueFd(::dup(root_.get())) : open_or_create(parent);
        if (!pfd) throw_errno("open " + dest_);
        if (::mkdirat(pfd.get(), base.c_str(), 0755) != 0)
            throw Error("cannot create directory " + printable(where(rel)) +
                        ": something that is not a directory is in the way");
        UniqueFd fd(::openat(pfd.get(), base.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw_errno("open " + where(rel));
        if (options_.made_parent) options_.made_parent(fd.get(), rel);
        return fd;
    }

    void make_hardlink(int dirfd, const std::string& base, const std::string& rel, const char* target) {
        std::string trel = clean_path("/" + std::string(target)).substr(1);
        auto fail = [&](const std::string& why) {
            throw Error("layer tar entry " + printable(rel) + " is a hardlink to " + printable(target) +
                        ", " + why);
        };
        if (trel.empty()) fail("which is not a regular file in the layer");
        auto [tparent, tbase] = split(trel);
        UniqueFd tfd;
        try {
            tfd = open_in_root(root_.get(), tparent, O_PATH | O_DIRECTORY);
        } catch (const Error&) {
            fail("which does not exist in the layer");
        }
        struct stat st;
        if (::fstatat(tfd.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            fail("which does not exist in the layer");
        if (!S_ISREG(st.st_mode)) fail("which is not a regular file in the layer");
        if (::linkat(tfd.get(), tbase.c_str(), dirfd, base.c_str(), 0) != 0)
            throw_errno("create hardlink " + where(rel));
    }

    void write_data(archive* tar, int fd, std::int64_t size, const std::string& rel) {
        std::int64_t pos = 0;
        bool sparse = false;
        for (;;) {
            const void* buf;
            size_t len;
            la_int64_t off;
            int r = archive_read_data_block(tar, &buf, &len, &off);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) archive_fail(tar, "read layer tar entry " + printable(rel));
            if (off != pos) sparse = true;
            if (off < 0 || off + static_cast<std::int64_t>(len) > size)
                throw Error("layer tar entry " + printable(rel) + " has data beyond its size");
            const char* p = static_cast<const char*>(buf);
            while (len > 0) {
                ssize_t n = ::pwrite(fd, p, len, off);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    throw_errno("write " + where(rel));
                }
                p += n;
                off += n;
                len -= static_cast<size_t>(n);
            }
            pos = off;
        }
        if ((sparse || pos != size) && ::ftruncate(fd, size) != 0) throw_errno("truncate " + where(rel));
    }

    // Xattrs, owner, mode, times. fd >= 0 is the object itself (file or directory).
    void finish_metadata(int dirfd, const std::string& base, const std::string& rel, archive_entry* ent,
                         int fd, bool is_dir) {
        const std::string what = where(rel);
        const uid_t uid = options_.owner ? options_.owner->first : static_cast<uid_t>(archive_entry_uid(ent));
        const gid_t gid = options_.owner ? options_.owner->second : static_cast<gid_t>(archive_entry_gid(ent));
        mode_t perm = archive_entry_perm(ent) & 07777;
        if (is_dir && !is_root_) perm |= 0700;  // the exact mode is set in finish()
        const bool link = archive_entry_filetype(ent) == AE_IFLNK;
        if (fd >= 0) {
            if (is_root_ && ::fchown(fd, uid, gid) != 0) throw_errno("chown " + printable(what));
            if (::fchmod(fd, perm) != 0) throw_errno("chmod " + printable(what));
        } else {
            if (is_root_ && ::fchownat(dirfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
                throw_errno("chown " + printable(what));
            // the final component was just created by us and is not a symlink here
            if (!link && ::fchmodat(dirfd, base.c_str(), perm, 0) != 0)
                throw_errno("chmod " + printable(what));
        }
        const char* n;
        const void* v;
        size_t vlen;
        // after chown: changing the owner drops security.capability
        archive_entry_xattr_reset(ent);
        std::string proc;
        while (archive_entry_xattr_next(ent, &n, &v, &vlen) == ARCHIVE_OK) {
            if (!n || starts_with(n, kOverlayXattrPrefix)) continue;
            int r;
            if (fd >= 0) {
                r = ::fsetxattr(fd, n, v, vlen, 0);
            } else {
                if (proc.empty()) proc = "/proc/self/fd/" + std::to_string(dirfd) + "/" + base;
                r = ::lsetxattr(proc.c_str(), n, v, vlen, 0);
            }
            if (r != 0 && errno != ENOTSUP && !(errno == EPERM && !is_root_))
                throw_errno("set xattr " + printable(n) + " on " + printable(what));
        }
        if (is_dir) return;  // directories get their times at the end
        timespec ts[2] = {mtime_of(ent), mtime_of(ent)};
        if (fd >= 0 ? ::futimens(fd, ts) : ::utimensat(dirfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW))
            throw_errno("set times of " + printable(what));
    }

    std::string dest_;
    UniqueFd root_;
    ExtractOptions options_;
    bool is_root_ = false;
    bool fresh_ = false;  // dest was empty: everything in it comes from this layer
    std::string cached_rel_;
    UniqueFd cached_fd_;
    bool cache_stale_ = false;
    std::vector<DirTime> dir_times_;
    std::optional<timespec> root_time_;
};

// Feeds libarchive from a ByteSource; an exception from the source must not cross
// libarchive's C frames, so it is kept and rethrown once control is back in C++.
struct SourceReader {
    const ByteSource* source = nullptr;
    std::unique_ptr<char[]> buf{new char[kReadBlock]};
    std::exception_ptr error;

    static la_ssize_t read(archive* a, void* self, const void** out) {
        auto* r = static_cast<SourceReader*>(self);
        try {
            *out = r->buf.get();
            return static_cast<la_ssize_t>((*r->source)(r->buf.get(), kReadBlock));
        } catch (...) {
            r->error = std::current_exception();
            archive_set_error(a, EIO, "read failed");
            return -1;
        }
    }
};

// Unpacks what raw (opened, not yet read) decompresses into dest.
TarStats extract_from(archive* raw, Extractor& ex, const std::function<void()>& rethrow, const ByteSink& tee) {
    ArchivePtr tar(archive_read_new());
    if (!tar) throw Error("libarchive: out of memory");
    auto fail = [&](archive* a, const std::string& what) {
        rethrow();
        archive_fail(a, what);
    };
    archive_entry* rawent = nullptr;
    int r = archive_read_next_header(raw, &rawent);
    if (r == ARCHIVE_EOF) throw Error("layer tar is empty");
    if (r < ARCHIVE_WARN) fail(raw, "read layer tar");

    Source src;
    src.raw = raw;
    src.tee = &tee;
    archive_read_support_format_tar(tar.get());
    if (archive_read_open(tar.get(), &src, nullptr, tar_read_callback, nullptr) != ARCHIVE_OK)
        fail(tar.get(), "read layer tar");

    for (;;) {
        archive_entry* ent = nullptr;
        r = archive_read_next_header(tar.get(), &ent);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) fail(tar.get(), "read layer tar");
        try {
            ex.entry(tar.get(), ent);
        } catch (const Error&) {
            rethrow();  // a failing source explains a failing entry better
            throw;
        }
    }
    ex.finish();
    // Hash what the tar reader did not need (the end-of-archive padding).
    const void* buf;
    while (true) {
        la_ssize_t n = src.next(&buf);
        if (n == 0) break;
        if (n < 0) fail(raw, "read layer tar");
    }
    return TarStats{src.hash.finish(), src.size};
}

ArchivePtr new_raw_reader() {
    ArchivePtr raw(archive_read_new());
    if (!raw) throw Error("libarchive: out of memory");
    archive_read_support_filter_all(raw.get());
    archive_read_support_format_raw(raw.get());
    return raw;
}

}  // namespace

TarStats extract_layer_tar(int fd, const std::string& dest) {
    ArchivePtr raw = new_raw_reader();
    if (archive_read_open_fd(raw.get(), fd, kReadBlock) != ARCHIVE_OK)
        archive_fail(raw.get(), "open layer tar");
    Extractor ex(dest, open_directory(dest), ExtractOptions{});
    return extract_from(raw.get(), ex, [] {}, {});
}

namespace {

TarStats extract_source(const ByteSource& source, Extractor& ex, const ByteSink& tar_bytes) {
    ArchivePtr raw = new_raw_reader();
    SourceReader reader;
    reader.source = &source;
    auto rethrow = [&] {
        if (reader.error) std::rethrow_exception(reader.error);
    };
    if (archive_read_open(raw.get(), &reader, nullptr, &SourceReader::read, nullptr) != ARCHIVE_OK) {
        rethrow();
        archive_fail(raw.get(), "open layer tar");
    }
    return extract_from(raw.get(), ex, rethrow, tar_bytes);
}

}  // namespace

TarStats extract_layer_tar(const ByteSource& source, const std::string& dest, const ByteSink& tar_bytes) {
    Extractor ex(dest, open_directory(dest), ExtractOptions{});
    return extract_source(source, ex, tar_bytes);
}

TarStats extract_tar_into(int dest_fd, const std::string& dest_name, const ByteSource& source,
                          const ExtractOptions& options) {
    UniqueFd root(::openat(dest_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open " + dest_name);
    Extractor ex(dest_name, std::move(root), options);
    return extract_source(source, ex, {});
}

TarStats decompress_layer(const ByteSource& source, const ByteSink& sink) {
    ArchivePtr raw = new_raw_reader();
    SourceReader reader;
    reader.source = &source;
    auto fail = [&](const std::string& what) {
        if (reader.error) std::rethrow_exception(reader.error);
        archive_fail(raw.get(), what);
    };
    if (archive_read_open(raw.get(), &reader, nullptr, &SourceReader::read, nullptr) != ARCHIVE_OK)
        fail("open layer blob");
    archive_entry* ent = nullptr;
    int r = archive_read_next_header(raw.get(), &ent);
    if (r == ARCHIVE_EOF) throw Error("layer blob is empty");
    if (r < ARCHIVE_WARN) fail("read layer blob");
    std::unique_ptr<char[]> buf(new char[kReadBlock]);
    Sha256 hash;
    std::uint64_t size = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(raw.get(), buf.get(), kReadBlock);
        if (n < 0) fail("decompress layer blob");
        if (n == 0) break;
        hash.update(buf.get(), static_cast<std::size_t>(n));
        if (sink) sink(buf.get(), static_cast<std::size_t>(n));
        size += static_cast<std::uint64_t>(n);
    }
    return TarStats{hash.finish(), size};
}

}  // namespace kiln::image
