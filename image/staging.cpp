#include "image/staging.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <ctime>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::uint64_t kWritebackStretch = 8u << 20;

void lock_or_throw(int fd, const std::string& path) {
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) throw_errno("lock " + path);
}

}  // namespace

StagingFile::StagingFile(const std::string& tmp_dir, const std::string& prefix) {
    std::string tmpl = tmp_dir + "/" + prefix + "XXXXXX";
    fd_.reset(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd_) throw_errno("create temporary file in " + tmp_dir);
    path_ = tmpl;
    try {
        lock_or_throw(fd_.get(), path_);
    } catch (...) {
        ::unlink(path_.c_str());
        throw;
    }
}

StagingFile::~StagingFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

void StagingFile::write(const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd_.get(), p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write " + path_);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
    // Start writeback of every full stretch as it is written, so commit's fsync finds the file
    // mostly on disk already instead of flushing a whole large blob at the end (half a second
    // and more for a 512 MiB layer). Only a hint: a failure is the fsync's to report.
    if (written_ - flushed_ >= kWritebackStretch) {
        ::sync_file_range(fd_.get(), static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                          SYNC_FILE_RANGE_WRITE);
        flushed_ = written_;
    }
}

void StagingFile::commit(const std::string& dest, mode_t mode) {
    if (::fchmod(fd_.get(), mode) != 0) throw_errno("chmod " + path_);
    if (::fsync(fd_.get()) != 0) throw_errno("fsync " + path_);
    durable_rename(path_, dest);
    path_.clear();
    fd_.reset();
}

StagingDir::StagingDir(const std::string& tmp_dir, const std::string& prefix) {
    std::string tmpl = tmp_dir + "/" + prefix + "XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw_errno("create temporary directory in " + tmp_dir);
    path_ = tmpl;
    try {
        lock_ = open_directory(path_);
        lock_or_throw(lock_.get(), path_);
    } catch (...) {
        remove_all(path_);
        throw;
    }
}

StagingDir::~StagingDir() {
    if (path_.empty()) return;
    try {
        remove_all(path_);
    } catch (...) {
        // Left for the next open's cleanup; a destructor must not throw.
    }
}

UniqueFd StagingDir::release() {
    path_.clear();
    return std::move(lock_);
}

std::string random_hex_name() {
    std::random_device random;
    return fmt::format("{:08x}{:08x}", random(), random());
}

void move_aside_and_remove(const std::string& path, const std::string& tmp_dir, const std::string& prefix) {
    // No placeholder directory to rename over (mkdtemp's): one inode less to make and drop.
    std::string moved;
    for (int attempt = 0;; ++attempt) {
        moved = tmp_dir + "/" + prefix + random_hex_name();
        if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, moved.c_str(), RENAME_NOREPLACE) == 0) break;
        if (errno == ENOENT) return;
        if (errno != EEXIST || attempt == 16) throw_errno("move " + path + " aside");
    }
    try {
        remove_all(moved);
    } catch (const Error&) {
        // Left for the next open's cleanup of tmp_dir.
    }
}

UniqueFd try_lock_path(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return fd;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return UniqueFd();
    return fd;
}

std::vector<std::string> list_dir_names(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

void remove_stale_entries(const std::string& dir, long min_age_seconds,
                          const std::function<bool(const std::string& name)>& release_entry,
                          const std::function<bool(const std::string& name)>& spared) {
    const auto names = list_dir_names(dir);
    const std::time_t now = std::time(nullptr);
    for (const auto& n : names) {
        if (spared && spared(n)) continue;
        std::string p = dir + "/" + n;
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0) continue;
        // ctime, not mtime: a rename into place updates it, and it cannot be set back.
        if (now - st.st_ctime < min_age_seconds) continue;
        UniqueFd lock = S_ISLNK(st.st_mode) ? UniqueFd() : try_lock_path(p);
        if (!S_ISLNK(st.st_mode) && !lock) continue;
        if (release_entry && !release_entry(n)) continue;
        try {
            remove_all(p);
        } catch (const Error&) {
            // Best effort: a leftover that cannot be removed now is retried next open.
        }
    }
}

}  // namespace kiln::image
