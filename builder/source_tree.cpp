#include "builder/source_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

std::string join(const std::vector<std::string>& parts, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out += '/';
        out += parts[i];
    }
    return out;
}

}  // namespace

bool is_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

Digest SourceTree::file_digest(std::string_view rel, const struct stat&) const {
    UniqueFd fd = open_file(rel);
    return sha256_of_fd(fd.get(), std::string(rel));
}

namespace {

// The user.* attributes through list/get, which read one entry's (an fd's or a path's).
template <typename List, typename Get>
std::vector<std::pair<std::string, std::string>> read_user_xattrs(std::string_view rel, List list, Get get) {
    std::string names(4096, '\0');
    ssize_t n;
    while ((n = list(names.data(), names.size())) < 0 && errno == ERANGE) names.resize(names.size() * 2);
    if (n < 0) {
        if (errno == ENOTSUP) return {};
        throw_errno("list xattrs of " + std::string(rel));
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t pos = 0; pos < static_cast<std::size_t>(n);) {
        std::string name(names.c_str() + pos);
        pos += name.size() + 1;
        if (!name.starts_with("user.")) continue;
        std::string value(256, '\0');
        ssize_t m;
        while ((m = get(name.c_str(), value.data(), value.size())) < 0 && errno == ERANGE) {
            if (value.size() > (1u << 20)) throw Error("xattr " + name + " of " + std::string(rel) + " is too large");
            value.resize(value.size() * 4);
        }
        if (m < 0) throw_errno("read xattr " + name + " of " + std::string(rel));
        value.resize(static_cast<std::size_t>(m));
        out.emplace_back(std::move(name), std::move(value));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SourceTree::user_xattrs(std::string_view rel) const {
    auto st = stat(rel);
    if (!st || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) return {};
    UniqueFd fd = S_ISDIR(st->st_mode) ? open_directory_at(rel) : open_file(rel);
    return read_user_xattrs(
        rel, [&](char* buf, std::size_t size) { return ::flistxattr(fd.get(), buf, size); },
        [&](const char* name, char* buf, std::size_t size) { return ::fgetxattr(fd.get(), name, buf, size); });
}

UniqueFd SourceTree::open_directory_at(std::string_view) const {
    throw Error("internal: this tree cannot open directories");
}

std::optional<std::string> resolve_in_tree(const SourceTree& tree, std::string_view rel, bool follow_last) {
    std::vector<std::string> todo = split_path(rel);
    std::reverse(todo.begin(), todo.end());  // a stack: next component at the back
    std::vector<std::string> done;
    int links = 0;
    while (!todo.empty()) {
        std::string part = std::move(todo.back());
        todo.pop_back();
        if (part == ".") continue;
        if (part == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        done.push_back(part);
        if (todo.empty() && !follow_last) break;
        std::string path = join(done, done.size());
        auto st = tree.stat(path);
        if (!st) {
            if (todo.empty()) break;  // a missing last component is still a path
            return std::nullopt;
        }
        if (!S_ISLNK(st->st_mode)) continue;
        if (++links > 40) return std::nullopt;
        std::string target = tree.read_link(path);
        done.pop_back();
        if (target.starts_with('/')) done.clear();
        auto parts = split_path(target);
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
    }
    return join(done, done.size());
}

DirectoryTree::DirectoryTree(const std::string& root) : root_(root), root_fd_(open_directory(root)) {}

template <typename F>
auto DirectoryTree::in_parent(std::string_view rel, F&& f) const {
    std::string cleaned = clean_path("/" + std::string(rel));
    auto slash = cleaned.find_last_of('/');
    std::string dir = cleaned.substr(0, slash);
    std::string name = cleaned.substr(slash + 1);
    auto& last = *last_parent_;
    std::lock_guard lock(last.mutex);
    if (!last.fd || dir != last.path) {
        last.fd.reset();
        last.fd = open_in_root(root_fd_.get(), dir, O_PATH | O_DIRECTORY);
        last.path = dir;
    }
    return f(last.fd.get(), name);
}

std::vector<std::pair<std::string, std::string>> DirectoryTree::user_xattrs(std::string_view rel) const {
    if (clean_path("/" + std::string(rel)) == "/") return SourceTree::user_xattrs(rel);
    return in_parent(rel, [&](int dir, const std::string& name) {
        // The l* calls do not follow rel if it is a link; the folder is reached through its
        // fd, so nothing on the way is resolved again.
        std::string path = "/proc/self/fd/" + std::to_string(dir) + "/" + name;
        auto list = [&](char* buf, std::size_t size) {
            ssize_t n = ::llistxattr(path.c_str(), buf, size);
            // Gone, or a parent that is no folder: the entry has no attributes to copy.
            if (n < 0 && (errno == ENOENT || errno == ENOTDIR)) return ssize_t{0};
            return n;
        };
        return read_user_xattrs(rel, list, [&](const char* attr, char* buf, std::size_t size) {
            return ::lgetxattr(path.c_str(), attr, buf, size);
        });
    });
}

std::optional<struct stat> DirectoryTree::stat(std::string_view rel) const {
    struct stat st;
    if (clean_path("/" + std::string(rel)) == "/") {
        if (::fstat(root_fd_.get(), &st) != 0) throw_errno("stat " + root_);
        return st;
    }
    try {
        return in_parent(rel, [&](int dir, const std::string& name) -> std::optional<struct stat> {
            if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
                throw_errno("stat " + std::string(rel));
            }
            return st;
        });
    } catch (const Error&) {
        // A missing or non-directory parent means rel does not exist in this tree.
        return std::nullopt;
    }
}

std::vector<std::string> DirectoryTree::list(std::string_view rel) const {
    UniqueFd fd = open_in_root(root_fd_.get(), rel, O_RDONLY | O_DIRECTORY);
    DIR* dir = ::fdopendir(fd.get());
    if (!dir) throw_errno("read directory " + std::string(rel));
    fd.release();
    std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, ::closedir);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        names.emplace_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

UniqueFd DirectoryTree::open_directory_at(std::string_view rel) const {
    return open_in_root(root_fd_.get(), rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

UniqueFd DirectoryTree::open_file(std::string_view rel) const {
    return in_parent(rel, [&](int dir, const std::string& name) {
        UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) throw_errno("open " + std::string(rel));
        return fd;
    });
}

std::string DirectoryTree::read_link(std::string_view rel) const {
    return in_parent(rel, [&](int dir, const std::string& name) {
        std::string target(4096, '\0');
        ssize_t n = ::readlinkat(dir, name.c_str(), target.data(), target.size());
        if (n < 0) throw_errno("readlink " + std::string(rel));
        target.resize(static_cast<std::size_t>(n));
        return target;
    });
}

LayerChainTree::LayerChainTree(std::vector<std::string> diff_dirs_top_first) {
    layers_.reserve(diff_dirs_top_first.size());
    for (auto& dir : diff_dirs_top_first) layers_.emplace_back(dir);
}

namespace {

bool is_opaque(const DirectoryTree& layer, const std::string& rel) {
    std::string path = rel.empty() ? layer.root() : layer.root() + "/" + rel;
    char value[2] = {};
    ssize_t n = ::lgetxattr(path.c_str(), "trusted.overlay.opaque", value, sizeof value);
    return n == 1 && value[0] == 'y';
}

}  // namespace

std::optional<std::size_t> LayerChainTree::provider(std::string_view rel) const {
    auto parts = split_path(rel);
    for (std::size_t li = 0; li < layers_.size(); ++li) {
        const auto& layer = layers_[li];
        bool stop_below = false;
        bool present = true;
        for (std::size_t i = 1; i <= parts.size(); ++i) {
            std::string prefix = join(parts, i);
            auto st = layer.stat(prefix);
            if (!st) {
                present = false;
                break;
            }
            if (is_whiteout(*st)) return std::nullopt;
            if (i == parts.size()) return li;
            // A non-directory here hides everything below this name in lower layers.
            if (!S_ISDIR(st->st_mode)) return std::nullopt;
            if (is_opaque(layer, prefix)) stop_below = true;
        }
        if (present && parts.empty()) return li;
        if (stop_below) return std::nullopt;
    }
    return std::nullopt;
}

std::optional<struct stat> LayerChainTree::stat(std::string_view rel) const {
    auto li = provider(rel);
    if (!li) return std::nullopt;
    return layers_[*li].stat(rel);
}

std::vector<std::string> LayerChainTree::list(std::string_view rel) const {
    auto top = provider(rel);
    if (!top) throw Error("no such directory: /" + std::string(rel));
    std::set<std::string> seen;
    std::set<std::string> names;
    std::string dir(rel);
    for (std::size_t li = *top; li < layers_.size(); ++li) {
        const auto& layer = layers_[li];
        auto st = layer.stat(dir);
        if (!st) continue;
        if (!S_ISDIR(st->st_mode)) break;
        for (auto& name : layer.list(dir)) {
            if (!seen.insert(name).second) continue;
            auto entry = layer.stat(dir.empty() ? name : dir + "/" + name);
            if (entry && !is_whiteout(*entry)) names.insert(name);
        }
        if (is_opaque(layer, dir)) break;
    }
    return {names.begin(), names.end()};
}

UniqueFd LayerChainTree::open_file(std::string_view rel) const {
    auto li = provider(rel);
    if (!li) throw Error("no such file: /" + std::string(rel));
    return layers_[*li].open_file(rel);
}

UniqueFd LayerChainTree::open_directory_at(std::string_view rel) const {
    auto li = provider(rel);
    if (!li) throw Error("no such directory: /" + std::string(rel));
    return layers_[*li].open_directory_at(rel);
}

std::vector<std::pair<std::string, std::string>> LayerChainTree::user_xattrs(std::string_view rel) const {
    auto li = provider(rel);
    if (!li) return {};
    return layers_[*li].user_xattrs(rel);
}

std::string LayerChainTree::read_link(std::string_view rel) const {
    auto li = provider(rel);
    if (!li) throw Error("no such file: /" + std::string(rel));
    return layers_[*li].read_link(rel);
}

}  // namespace kiln::builder
