#include "runtime/container_changes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <optional>
#include <set>

#include "image/detached_mount.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/dir_list.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

std::vector<std::string> sorted_names(int dirfd, const std::string& what) {
    auto names = list_names(dirfd, what);
    std::sort(names.begin(), names.end());
    return names;
}

bool opaque(int dirfd) {
    char value[2];
    std::string path = "/proc/self/fd/" + std::to_string(dirfd);
    return ::getxattr(path.c_str(), "trusted.overlay.opaque", value, sizeof(value)) == 1 && value[0] == 'y';
}

class ChangeWalk {
public:
    ChangeWalk(int lower, std::string upper_name) : lower_(lower), upper_name_(std::move(upper_name)) {}

    void walk(int dirfd, const std::string& dir) {
        for (const auto& name : sorted_names(dirfd, upper_name_ + dir)) visit(dirfd, dir == "/" ? "/" + name : dir + "/" + name, name);
    }

    std::vector<ContainerChange> changes;

private:
    // The image's entry at path (symlinks followed, inside the image), as docker's os.Stat.
    std::optional<struct stat> in_image(const std::string& path) const {
        if (lower_ < 0) return std::nullopt;
        try {
            UniqueFd fd = open_in_root(lower_, path, O_PATH);
            struct stat st;
            if (::fstat(fd.get(), &st) != 0) return std::nullopt;
            return st;
        } catch (const Error&) {
            return std::nullopt;
        }
    }

    void visit(int dirfd, const std::string& path, const std::string& name) {
        struct stat st;
        if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("stat " + upper_name_ + path);
        UniqueFd child;
        if (S_ISDIR(st.st_mode)) {
            child.reset(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!child) throw_errno("open " + upper_name_ + path);
        }
        if (runtime_mount_point(path, st)) {
            skipped_parents_.insert(path.substr(0, path.rfind('/')));
            return;
        }
        const bool whiteout = S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
        char kind = 'A';
        if (whiteout || (child && opaque(child.get()))) {
            kind = 'D';
        } else if (auto old = in_image(path)) {
            // A directory that only holds changes is itself unchanged.
            if (S_ISDIR(old->st_mode) && child && old->st_size == st.st_size && old->st_mode == st.st_mode &&
                old->st_mtim.tv_sec == st.st_mtim.tv_sec && old->st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
                walk(child.get(), path);
                return;
            }
            kind = 'C';
        }
        if (child) changed_dirs_.insert(path);
        if (kind != 'C') {
            std::string parent = path.substr(0, path.rfind('/'));
            if (!parent.empty() && changed_dirs_.insert(parent).second) changes.push_back({'C', parent});
        }
        changes.push_back({kind, path});
        if (child) walk(child.get(), path);
    }

public:
    // A parent listed only for the mount points left out is no change of the container's.
    void drop_parents_of_skipped() {
        for (const auto& parent : skipped_parents_) {
            auto it = std::find_if(changes.begin(), changes.end(),
                                   [&](const ContainerChange& c) { return c.path == parent; });
            if (it == changes.end() || it->kind != 'C') continue;
            auto next = it + 1;
            if (next == changes.end() || !next->path.starts_with(parent + "/")) changes.erase(it);
        }
    }

private:
    int lower_;
    std::string upper_name_;
    std::set<std::string> skipped_parents_;
    std::set<std::string> changed_dirs_;
};

}  // namespace

bool runtime_mount_point(const std::string& path, const struct stat& st) {
    return S_ISREG(st.st_mode) && st.st_size == 0 &&
           (path == "/etc/hostname" || path == "/etc/hosts" || path == "/etc/resolv.conf");
}

std::vector<ContainerChange> container_changes(image::Store& store, const ContainerRow& row) {
    auto snapshot = store.layers().existing(container_snapshot_key(row.id));
    UniqueFd image_root;
    if (snapshot.parent) image_root = image::mount_detached(store.layers().view(snapshot.parent));
    UniqueFd upper = open_directory(snapshot.upper_dir);
    ChangeWalk walk(image_root ? image_root.get() : -1, snapshot.upper_dir);
    walk.walk(upper.get(), "/");
    walk.drop_parents_of_skipped();
    return std::move(walk.changes);
}

}  // namespace kiln::runtime
