#include "util/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <filesystem>
#include <vector>

#include "util/error.hpp"

namespace kiln {

std::string clean_path(std::string_view path) {
    if (path.empty()) return ".";
    const bool rooted = path.front() == '/';
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        std::string_view part = path.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (!parts.empty() && parts.back() != "..")
                parts.pop_back();
            else if (!rooted)
                parts.push_back(part);
            continue;
        }
        parts.push_back(part);
    }
    std::string out = rooted ? "/" : "";
    for (std::size_t k = 0; k < parts.size(); ++k) {
        if (k) out += '/';
        out += parts[k];
    }
    return out.empty() ? "." : out;
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < path.size()) {
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) parts.emplace_back(path.substr(i, j - i));
        i = j + 1;
    }
    return parts;
}

namespace {

// rel cleaned as if it were absolute: ".." can never climb above "/". (Built by append:
// g++ 12 at -O3 reports a false -Wrestrict for "/" + std::string.)
std::string clean_inside(std::string_view rel) {
    std::string rooted;
    rooted.reserve(rel.size() + 1);
    rooted += '/';
    rooted.append(rel);
    return clean_path(rooted);
}

}  // namespace

std::string safe_join(std::string_view root, std::string_view rel) {
    std::string inner = clean_inside(rel);
    std::string base(root);
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    if (inner == "/") return base.empty() ? "/" : base;
    if (base == "/") return inner;
    return base + inner;
}

UniqueFd open_in_root(int rootfd, std::string_view rel, int flags, mode_t mode) {
    std::string inner = clean_inside(rel);
    std::string relative = inner == "/" ? "." : inner.substr(1);
    open_how how{};
    how.flags = static_cast<__u64>(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = ::syscall(SYS_openat2, rootfd, relative.c_str(), &how, sizeof(how));
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    if (fd < 0) throw_errno("open " + inner);
    return UniqueFd(static_cast<int>(fd));
}

UniqueFd open_directory(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open directory " + path);
    return fd;
}

std::size_t read_some(int fd, void* buf, std::size_t cap, const std::string& what) {
    for (;;) {
        ssize_t n = ::read(fd, buf, cap);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) throw_errno("read " + what);
    }
}

std::string read_all(int fd, const std::string& what) {
    std::string out;
    char buf[65536];
    while (std::size_t n = read_some(fd, buf, sizeof buf, what)) out.append(buf, n);
    return out;
}

std::string read_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    return read_all(fd.get(), path);
}

void write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write " + what);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

namespace {

std::string parent_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace

void fsync_path(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    if (::fsync(fd.get()) != 0) throw_errno("fsync " + path);
}

void durable_rename(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("rename " + from + " to " + to);
    fsync_path(parent_of(to));
}

void atomic_write(const std::string& path, std::string_view data, mode_t mode, Durability durability) {
    std::string tmpl = parent_of(path) + "/.tmp-XXXXXX";
    UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd) throw_errno("create temporary file for " + path);
    try {
        write_all(fd.get(), data, path);
        if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod " + tmpl);
        if (durability == Durability::not_needed) {
            fd.reset();
            if (::rename(tmpl.c_str(), path.c_str()) != 0) throw_errno("rename " + tmpl + " to " + path);
            return;
        }
        if (::fsync(fd.get()) != 0) throw_errno("fsync " + tmpl);
        fd.reset();
        durable_rename(tmpl, path);
    } catch (...) {
        ::unlink(tmpl.c_str());
        throw;
    }
}

void mkdir_p(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) throw Error("create directory " + path + ": " + ec.message());
}

namespace {

// Removes everything in the directory open as dir, depth first, by name relative to its
// folder: a symlink is unlinked, never followed, and a folder on another filesystem than
// dev (a mount left inside) is refused rather than emptied. One pass reads each folder
// once (std::filesystem's opened each twice, and fdopendir added two calls per folder);
// a folder that something refilled meanwhile is read again, a few times at most.
void remove_contents(int dir, dev_t dev, const std::string& path) {
    constexpr std::size_t kBufferSize = 32 * 1024;
    auto buffer = std::make_unique_for_overwrite<char[]>(kBufferSize);
    for (int pass = 0;; ++pass) {
        bool refilled = false;
        if (::lseek(dir, 0, SEEK_SET) < 0) throw_errno("rewind " + path);
        for (;;) {
            long n = ::syscall(SYS_getdents64, dir, buffer.get(), kBufferSize);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("read the folder " + path);
            if (n == 0) break;
            for (long offset = 0; offset < n;) {
                // struct linux_dirent64: ino, off, reclen, type, name.
                const char* entry = buffer.get() + offset;
                unsigned short reclen;
                std::memcpy(&reclen, entry + 16, sizeof reclen);
                offset += reclen;
                const unsigned char type = static_cast<unsigned char>(entry[18]);
                const char* name = entry + 19;
                if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
                bool is_dir = type == DT_DIR;
                if (type == DT_UNKNOWN) {
                    struct stat st;
                    if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                        if (errno == ENOENT) continue;
                        throw_errno("stat " + path + "/" + name);
                    }
                    is_dir = S_ISDIR(st.st_mode);
                }
                if (!is_dir) {
                    if (::unlinkat(dir, name, 0) == 0 || errno == ENOENT) continue;
                    if (errno != EISDIR) throw_errno("remove " + path + "/" + name);
                }
                const std::string sub_path = path + "/" + name;
                UniqueFd sub(::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!sub) {
                    if (errno == ENOENT) continue;
                    if (errno == ENOTDIR || errno == ELOOP) {  // replaced by a file or link since
                        refilled = true;
                        continue;
                    }
                    throw_errno("open " + sub_path);
                }
                struct stat st;
                if (::fstat(sub.get(), &st) != 0) throw_errno("stat " + sub_path);
                if (st.st_dev != dev) throw Error("remove " + sub_path + ": a mount point; not removing what it holds");
                remove_contents(sub.get(), dev, sub_path);
                sub.reset();
                if (::unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno == ENOENT) continue;
                if (errno != ENOTEMPTY && errno != EEXIST) throw_errno("remove " + sub_path);
                refilled = true;
            }
        }
        if (!refilled) return;
        if (pass == 8) throw Error("remove " + path + ": still being filled while it is removed");
    }
}

}  // namespace

void remove_all(const std::string& path) {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EISDIR) throw_errno("remove " + path);
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) {
        if (errno == ENOENT) return;
        throw_errno("open " + path);
    }
    struct stat st;
    if (::fstat(dir.get(), &st) != 0) throw_errno("stat " + path);
    remove_contents(dir.get(), st.st_dev, path);
    dir.reset();
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

TempDir::TempDir(const std::string& parent, const std::string& prefix) {
    std::string tmpl = parent + "/" + prefix + "XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw_errno("create temporary directory in " + parent);
    path_ = tmpl;
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    try {
        remove_all(path_);
    } catch (const Error&) {
        // A destructor must not throw; what is left stays in the temporary folder.
    }
}

std::string TempDir::release() { return std::exchange(path_, std::string()); }

}  // namespace kiln
