#include "runtime/volume_copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// Both ends are open descriptors, so no path can be swapped under the copy. (Symlinks
// keep no xattrs here: they cannot be opened.)
void copy_xattrs(int from, int to, const std::string& what) {
    std::vector<char> names(4096);
    ssize_t n;
    while ((n = ::flistxattr(from, names.data(), names.size())) < 0 && errno == ERANGE) names.resize(names.size() * 2);
    if (n < 0) {
        if (errno == ENOTSUP || errno == ENODATA) return;
        throw_errno("list xattrs of " + what);
    }
    std::vector<char> value(4096);
    for (const char* name = names.data(); name < names.data() + n; name += std::strlen(name) + 1) {
        ssize_t len;
        while ((len = ::fgetxattr(from, name, value.data(), value.size())) < 0 && errno == ERANGE)
            value.resize(value.size() * 2);
        if (len < 0) continue;  // gone meanwhile
        if (::fsetxattr(to, name, value.data(), static_cast<std::size_t>(len), 0) != 0 && errno != ENOTSUP)
            throw_errno(std::string("set xattr ") + name + " on " + what);
    }
}

void copy_owner_mode_times(int from_stat_fd, int to, const struct stat& st, const std::string& what) {
    if (::fchown(to, st.st_uid, st.st_gid) != 0) throw_errno("chown " + what);
    if (::fchmod(to, st.st_mode & 07777) != 0) throw_errno("chmod " + what);
    copy_xattrs(from_stat_fd, to, what);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(to, times) != 0) throw_errno("set times of " + what);
}

void copy_file(int src_dir, int dst_dir, const char* name, const struct stat& st, const std::string& what) {
    UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) throw_errno("open " + what);
    UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_errno("create " + what);
    for (off_t left = st.st_size; left > 0;) {
        ssize_t sent = ::sendfile(out.get(), in.get(), nullptr, static_cast<std::size_t>(std::min<off_t>(left, 1 << 30)));
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0) throw_errno("copy " + what);
        if (sent == 0) break;  // shrank meanwhile
        left -= sent;
    }
    copy_owner_mode_times(in.get(), out.get(), st, what);
}

void copy_dir_contents(int src_dir, int dst_dir, const std::string& where) {
    UniqueFd listing(::dup(src_dir));
    if (!listing) throw_errno("dup");
    DIR* d = ::fdopendir(listing.release());
    if (!d) throw_errno("read " + where);
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& name : names) {
        const std::string what = where + "/" + name;
        struct stat st;
        if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("stat " + what);
        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(dst_dir, name.c_str(), 0700) != 0) throw_errno("create " + what);
            UniqueFd from(::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            UniqueFd to(::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!from || !to) throw_errno("open " + what);
            copy_dir_contents(from.get(), to.get(), what);
            copy_owner_mode_times(from.get(), to.get(), st, what);  // after its contents: times stay
        } else if (S_ISREG(st.st_mode)) {
            copy_file(src_dir, dst_dir, name.c_str(), st, what);
        } else if (S_ISLNK(st.st_mode)) {
            std::vector<char> target(static_cast<std::size_t>(st.st_size) + 1);
            ssize_t len = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
            if (len < 0) throw_errno("read link " + what);
            target[static_cast<std::size_t>(len)] = '\0';
            if (::symlinkat(target.data(), dst_dir, name.c_str()) != 0) throw_errno("create " + what);
            if (::fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
                throw_errno("chown " + what);
            const struct timespec times[2] = {st.st_atim, st.st_mtim};
            ::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
        } else {
            // Device nodes, fifos and sockets are made anew with the same numbers.
            if (::mknodat(dst_dir, name.c_str(), st.st_mode, st.st_rdev) != 0) throw_errno("create " + what);
            if (::fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
                throw_errno("chown " + what);
            if (::fchmodat(dst_dir, name.c_str(), st.st_mode & 07777, 0) != 0) throw_errno("chmod " + what);
        }
    }
}

}  // namespace

void copy_up(int src_root_fd, const std::string& path, const std::string& dest) {
    UniqueFd from;
    try {
        from = open_in_root(src_root_fd, path, O_RDONLY | O_DIRECTORY);
    } catch (const Error&) {
        return;  // nothing (or no directory) there in the image: the volume starts empty
    }
    UniqueFd to = open_directory(dest);
    copy_dir_contents(from.get(), to.get(), path);
    struct stat st;
    if (::fstat(from.get(), &st) != 0) throw_errno("stat " + path);
    copy_owner_mode_times(from.get(), to.get(), st, path);
}

}  // namespace kiln::runtime
