#include "builder/cache_mounts.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

std::string mounts_root(const std::string& store_root) { return store_root + "/cache-mounts"; }

UniqueFd open_lock(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw_errno("open the cache mount lock " + path);
    return fd;
}

bool try_lock(const UniqueFd& fd, int how) {
    if (::flock(fd.get(), how | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK) throw_errno("lock a cache mount");
    return false;
}

void wait_lock(const UniqueFd& fd, int how) {
    while (::flock(fd.get(), how) != 0)
        if (errno != EINTR) throw_errno("lock a cache mount");
}

std::uint64_t tree_size(const std::string& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        struct stat st;
        if (::lstat(it->path().c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) total += static_cast<std::uint64_t>(st.st_size);
    }
    return total;
}

}  // namespace

CacheMountLease::CacheMountLease(const std::string& store_root, const RunMountSpec& spec,
                                 const std::function<void(const std::string&)>& seed) {
    const Digest key = sha256_of(spec.id);
    const std::string base = mounts_root(store_root) + "/" + key.hex();
    mkdir_p(base);
    if (!path_exists(base + "/id")) atomic_write(base + "/id", spec.id, 0600);
    std::string name = "data";
    if (spec.sharing == CacheSharing::private_) {
        // A private cache is one user's at a time: others get (and keep) instances of their own.
        for (int n = 0;; ++n) {
            name = n == 0 ? "data" : "data." + std::to_string(n);
            lock_ = open_lock(base + "/" + name + ".lock");
            if (try_lock(lock_, LOCK_EX)) break;
        }
    } else {
        lock_ = open_lock(base + "/data.lock");
        wait_lock(lock_, spec.sharing == CacheSharing::locked ? LOCK_EX : LOCK_SH);
    }
    ::futimens(lock_.get(), nullptr);  // last used, for `cache ls`
    dir_ = base + "/" + name;
    if (path_exists(dir_)) return;
    // Seeded in a staging directory and renamed into place: a concurrent shared user sees
    // no directory or a complete one.
    TempDir staging(base, "new-");
    const std::string fresh = staging.path() + "/dir";
    if (::mkdir(fresh.c_str(), 0700) != 0) throw_errno("create the cache mount " + fresh);
    if (seed) seed(fresh);
    if (::chown(fresh.c_str(), spec.uid, spec.gid) != 0) throw_errno("chown the cache mount " + fresh);
    if (::chmod(fresh.c_str(), spec.mode.value_or(0755)) != 0) throw_errno("chmod the cache mount " + fresh);
    if (::rename(fresh.c_str(), dir_.c_str()) != 0 && errno != EEXIST && errno != ENOTEMPTY)
        throw_errno("install the cache mount " + dir_);
}

std::vector<CacheMountInfo> list_cache_mounts(const std::string& store_root) {
    std::vector<CacheMountInfo> out;
    const std::string root = mounts_root(store_root);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        const std::string hex = entry.path().filename();
        const std::string base = entry.path();
        if (!path_exists(base + "/id")) continue;
        CacheMountInfo info;
        info.key = "sha256:" + hex;
        info.id = read_file(base + "/id");
        struct stat st;
        if (::stat((base + "/id").c_str(), &st) == 0) info.created = st.st_mtim.tv_sec;
        info.last_used = info.created;
        for (const auto& inner : std::filesystem::directory_iterator(base, ec)) {
            const std::string name = inner.path().filename();
            if (name.ends_with(".lock")) {
                if (::stat(inner.path().c_str(), &st) == 0) info.last_used = std::max<std::int64_t>(info.last_used, st.st_mtim.tv_sec);
                UniqueFd lock = open_lock(inner.path());
                if (!try_lock(lock, LOCK_EX)) info.in_use = true;
            } else if (name.starts_with("data")) {
                info.size += tree_size(inner.path());
            }
        }
        out.push_back(std::move(info));
    }
    return out;
}

bool remove_cache_mount(const std::string& store_root, const std::string& key) {
    const std::string hex = key.starts_with("sha256:") ? key.substr(7) : key;
    const std::string base = mounts_root(store_root) + "/" + Digest::from_hex(hex).hex();
    if (!path_exists(base)) return true;
    // Every instance's lock held while the directory moves away: no build is inside it.
    std::vector<UniqueFd> held;
    std::error_code ec;
    for (const auto& inner : std::filesystem::directory_iterator(base, ec)) {
        if (!inner.path().filename().string().ends_with(".lock")) continue;
        held.push_back(open_lock(inner.path()));
        if (!try_lock(held.back(), LOCK_EX)) return false;
    }
    TempDir trash(store_root + "/tmp", "cache-mount-");
    durable_rename(base, trash.path() + "/gone");
    return true;
}

}  // namespace kiln::builder
