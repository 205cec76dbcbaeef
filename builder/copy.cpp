#include "builder/copy.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::string child(std::string_view dir, std::string_view name) {
    return dir.empty() ? std::string(name) : std::string(dir) + "/" + std::string(name);
}

std::string base_name(std::string_view path) {
    auto slash = path.find_last_of('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Expands a source pattern component by component against the tree.
void expand_pattern(const SourceTree& tree, const std::vector<std::string>& parts, std::size_t i,
                    const std::string& prefix, const ExcludeFn& excluded,
                    std::vector<std::string>& out) {
    if (i == parts.size()) {
        out.push_back(prefix);
        return;
    }
    const std::string& part = parts[i];
    if (!has_wildcard(part)) {
        std::string next = child(prefix, part);
        if (tree.stat(next)) expand_pattern(tree, parts, i + 1, next, excluded, out);
        return;
    }
    auto st = tree.stat(prefix);
    if (!st || !S_ISDIR(st->st_mode)) return;
    for (const auto& name : tree.list(prefix)) {
        if (::fnmatch(part.c_str(), name.c_str(), 0) != 0) continue;
        std::string next = child(prefix, name);
        if (excluded && excluded(next)) continue;
        expand_pattern(tree, parts, i + 1, next, excluded, out);
    }
}

}  // namespace

std::vector<CopyItem> plan_copy(const SourceTree& tree, const std::vector<std::string>& sources,
                                const std::vector<parser::Heredoc>& heredocs,
                                const std::string& destination, const SourceTree* lower,
                                const ExcludeFn& excluded) {
    if (sources.empty()) throw Error("COPY needs at least one source and a destination");
    std::string dest = clean_path(destination);
    bool dest_is_dir = destination.ends_with('/') || destination.ends_with("/.") ||
                       destination == ".";
    if (!dest_is_dir && lower) {
        auto st = lower->stat(dest == "/" ? "" : dest.substr(1));
        dest_is_dir = st && S_ISDIR(st->st_mode);
    }
    if (dest == "/") dest_is_dir = true;

    std::vector<CopyItem> items;
    bool several = sources.size() > 1;
    for (const auto& source : sources) {
        const parser::Heredoc* doc = nullptr;
        for (const auto& h : heredocs)
            if (source == "<<" + h.name || source == "<<-" + h.name) doc = &h;
        if (doc) {
            std::string target = dest_is_dir || several ? safe_join(dest, doc->name) : dest;
            items.push_back({"", doc->content, target, false});
            continue;
        }
        std::string cleaned = clean_path("/" + source);
        std::string rel = cleaned == "/" ? "" : cleaned.substr(1);
        std::vector<std::string> matches;
        if (has_wildcard(rel)) {
            several = true;
            expand_pattern(tree, split_path(rel), 0, "", excluded, matches);
        } else if (tree.stat(rel) && !(excluded && !rel.empty() && excluded(rel))) {
            matches.push_back(rel);
        }
        if (matches.empty())
            throw Error("COPY failed: file not found in build context or excluded by "
                        ".dockerignore: stat " + source + ": file does not exist");
        for (auto& match : matches) {
            auto st = tree.stat(match);
            if (st && S_ISDIR(st->st_mode)) {
                items.push_back({match, std::nullopt, dest, true});
            } else {
                std::string target = dest_is_dir || several ? safe_join(dest, base_name(match)) : dest;
                items.push_back({match, std::nullopt, target, false});
            }
        }
    }
    if (several && !dest_is_dir)
        throw Error("When using COPY with more than one source file, the destination must be "
                    "a directory and end with a /");
    return items;
}

namespace {

mode_t effective_mode(const struct stat& st, const CopyOptions& o) {
    if (o.mode && !S_ISLNK(st.st_mode)) return *o.mode;
    return st.st_mode & 07777;
}

// Visits every entry a copy item writes: (source rel, destination path, stat).
void for_each_entry(const SourceTree& tree, const CopyItem& item, const ExcludeFn& excluded,
                    const std::function<void(const std::string&, const std::string&,
                                             const struct stat&)>& visit) {
    auto st = tree.stat(item.source);
    if (!st) throw Error("COPY failed: " + item.source + " disappeared during the build");
    if (!item.contents_only) {
        visit(item.source, item.destination, *st);
        if (!S_ISDIR(st->st_mode)) return;
    }
    // Depth-first, names sorted: the same tree always gives the same sequence.
    std::vector<std::pair<std::string, std::string>> stack{{item.source, item.destination}};
    while (!stack.empty()) {
        auto [src, dst] = stack.back();
        stack.pop_back();
        auto names = tree.list(src);
        std::vector<std::pair<std::string, std::string>> dirs;
        for (const auto& name : names) {
            std::string s = child(src, name);
            bool hidden = excluded && excluded(s);
            if (hidden && !excluded.walk_excluded_dirs()) continue;
            auto est = tree.stat(s);
            if (!est) continue;
            std::string d = safe_join(dst, name);
            if (S_ISDIR(est->st_mode)) dirs.emplace_back(s, d);
            if (!hidden) visit(s, d, *est);
        }
        for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) stack.push_back(*it);
    }
}

void hash_field(Sha256& h, std::string_view v) {
    std::uint64_t n = v.size();
    h.update(&n, sizeof n);
    h.update(v);
}

}  // namespace

Digest digest_copy(const SourceTree& tree, const std::vector<CopyItem>& items,
                   const CopyOptions& options, const ExcludeFn& excluded, std::vector<SourceEntry>* listing) {
    Sha256 h;
    for (const auto& item : items) {
        if (item.inline_content) {
            hash_field(h, "inline");
            hash_field(h, item.destination);
            hash_field(h, *item.inline_content);
            if (listing) listing->push_back({item.destination, "heredoc", sha256_of(*item.inline_content).str()});
            continue;
        }
        for_each_entry(tree, item, excluded,
                       [&](const std::string& src, const std::string& dst, const struct stat& st) {
                           hash_field(h, dst);
                           std::string meta = std::to_string(st.st_mode & S_IFMT) + ":" +
                                              std::to_string(effective_mode(st, options));
                           hash_field(h, meta);
                           std::string content;
                           if (S_ISLNK(st.st_mode))
                               content = tree.read_link(src);
                           else if (S_ISREG(st.st_mode))
                               content = tree.file_digest(src, st).str();
                           if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode)) hash_field(h, content);
                           if (listing) listing->push_back({dst, meta, std::move(content)});
                       });
    }
    std::string owner = (options.uid ? std::to_string(*options.uid) : "-") + ":" +
                        (options.gid ? std::to_string(*options.gid) : "-");
    hash_field(h, owner);
    return h.finish();
}

namespace {

class LayerWriter {
public:
    LayerWriter(const std::string& upper, const SourceTree* lower, const CopyOptions& options)
        : upper_fd_(open_directory(upper)), lower_(lower), options_(options) {}

    // Opens (creating as needed) the directory at absolute image path `dir` inside upper.
    UniqueFd ensure_dir(const std::string& dir) {
        std::string path = clean_path(dir);
        UniqueFd fd = open_in_root(upper_fd_.get(), "/", O_PATH | O_DIRECTORY);
        std::string prefix;
        for (const auto& part : split_path(path)) {
            prefix += "/" + part;
            UniqueFd next(::openat(fd.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!next) {
                if (errno == ENOTDIR || errno == ELOOP) {
                    // A symlink in the upper dir: resolve it as the image would, inside upper.
                    next = open_in_root(upper_fd_.get(), prefix, O_PATH | O_DIRECTORY);
                } else if (errno == ENOENT) {
                    make_dir_like_lower(fd.get(), part, prefix);
                    next = UniqueFd(::openat(fd.get(), part.c_str(),
                                             O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                    if (!next) throw_errno("open " + prefix);
                } else {
                    throw_errno("open " + prefix);
                }
            }
            fd = std::move(next);
        }
        return fd;
    }

    void write_entry(const SourceTree& tree, const std::string& src, const std::string& dst,
                     const struct stat& st) {
        std::string cleaned = clean_path(dst);
        if (cleaned == "/") {
            if (S_ISDIR(st.st_mode)) return;
            throw Error("COPY failed: cannot copy a file to /");
        }
        auto slash = cleaned.find_last_of('/');
        UniqueFd parent = ensure_dir(cleaned.substr(0, slash));
        std::string name = cleaned.substr(slash + 1);
        uid_t uid = options_.uid.value_or(0);
        gid_t gid = options_.gid.value_or(options_.uid ? *options_.uid : 0);
        mode_t mode = effective_mode(st, options_);
        struct timespec times[2] = {st.st_mtim, st.st_mtim};

        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
                throw_errno("mkdir " + cleaned);
            UniqueFd dir(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!dir) throw_errno("open " + cleaned);
            set_attributes(dir.get(), cleaned, uid, gid, mode, times);
            return;
        }
        remove_existing(parent.get(), name, cleaned);
        if (S_ISLNK(st.st_mode)) {
            std::string target = tree.read_link(src);
            if (::symlinkat(target.c_str(), parent.get(), name.c_str()) != 0)
                throw_errno("symlink " + cleaned);
            if (::fchownat(parent.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
                throw_errno("chown " + cleaned);
            ::utimensat(parent.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW);
            return;
        }
        if (!S_ISREG(st.st_mode)) return;  // sockets, fifos, devices are not copied
        UniqueFd out(::openat(parent.get(), name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) throw_errno("create " + cleaned);
        UniqueFd in = tree.open_file(src);
        copy_bytes(in.get(), out.get(), static_cast<std::size_t>(st.st_size), cleaned);
        set_attributes(out.get(), cleaned, uid, gid, mode, times);
    }

    void write_inline(const std::string& dst, const std::string& content) {
        std::string cleaned = clean_path(dst);
        auto slash = cleaned.find_last_of('/');
        UniqueFd parent = ensure_dir(cleaned.substr(0, slash));
        std::string name = cleaned.substr(slash + 1);
        remove_existing(parent.get(), name, cleaned);
        UniqueFd out(::openat(parent.get(), name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) throw_errno("create " + cleaned);
        write_all(out.get(), content, cleaned);
        uid_t uid = options_.uid.value_or(0);
        gid_t gid = options_.gid.value_or(options_.uid ? *options_.uid : 0);
        struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
        set_attributes(out.get(), cleaned, uid, gid, options_.mode.value_or(0644), now);
    }

private:
    void make_dir_like_lower(int parent_fd, const std::string& name, const std::string& path) {
        // A directory new to the image belongs to the COPY's owner, as BuildKit makes it
        // (COPY --chown=99 f /a/b/ gives /a and /a/b to 99); one the image has keeps its own.
        mode_t mode = 0755;
        uid_t uid = options_.uid.value_or(0);
        gid_t gid = options_.gid.value_or(options_.uid ? *options_.uid : 0);
        std::optional<struct stat> below;
        if (lower_) below = lower_->stat(path.substr(1));
        if (below && S_ISDIR(below->st_mode)) {
            mode = below->st_mode & 07777;
            uid = below->st_uid;
            gid = below->st_gid;
        }
        if (::mkdirat(parent_fd, name.c_str(), 0700) != 0) throw_errno("mkdir " + path);
        UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir) throw_errno("open " + path);
        if (::fchown(dir.get(), uid, gid) != 0) throw_errno("chown " + path);
        if (::fchmod(dir.get(), mode) != 0) throw_errno("chmod " + path);
        if (below && S_ISDIR(below->st_mode)) {
            struct timespec times[2] = {below->st_mtim, below->st_mtim};
            ::futimens(dir.get(), times);
        }
    }

    static void remove_existing(int parent_fd, const std::string& name, const std::string& path) {
        struct stat st;
        if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
        if (S_ISDIR(st.st_mode))
            throw Error("COPY failed: cannot replace directory " + path + " with a file");
        if (::unlinkat(parent_fd, name.c_str(), 0) != 0) throw_errno("replace " + path);
    }

    static void set_attributes(int fd, const std::string& path, uid_t uid, gid_t gid, mode_t mode,
                               const struct timespec times[2]) {
        if (::fchown(fd, uid, gid) != 0) throw_errno("chown " + path);
        // chmod after chown: chown clears setuid/setgid bits.
        if (::fchmod(fd, mode) != 0) throw_errno("chmod " + path);
        if (::futimens(fd, times) != 0) throw_errno("set times of " + path);
    }

    static void copy_bytes(int in, int out, std::size_t size, const std::string& path) {
        std::size_t left = size;
        while (left > 0) {
            ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, left, 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) break;
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("copy " + path);
            }
            if (n == 0) break;
            left -= static_cast<std::size_t>(n);
        }
        if (left == 0) return;
        std::vector<char> buf(1 << 20);
        for (;;) {
            ssize_t n = ::read(in, buf.data(), buf.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("read for " + path);
            }
            if (n == 0) break;
            write_all(out, std::string_view(buf.data(), static_cast<std::size_t>(n)), path);
        }
    }

    UniqueFd upper_fd_;
    const SourceTree* lower_;
    CopyOptions options_;
};

}  // namespace

void apply_copy(const SourceTree& tree, const std::vector<CopyItem>& items,
                const CopyOptions& options, const ExcludeFn& excluded,
                const std::string& upper_dir, const SourceTree* lower) {
    LayerWriter writer(upper_dir, lower, options);
    for (const auto& item : items) {
        if (item.inline_content) {
            writer.write_inline(item.destination, *item.inline_content);
            continue;
        }
        if (item.contents_only) writer.ensure_dir(item.destination);
        // Directory times are set when each is written; writing children afterwards moves
        // the parent's mtime, so fix directory times again once everything is in place.
        std::vector<std::tuple<std::string, struct stat>> dirs;
        for_each_entry(tree, item, excluded,
                       [&](const std::string& src, const std::string& dst, const struct stat& st) {
                           writer.write_entry(tree, src, dst, st);
                           if (S_ISDIR(st.st_mode)) dirs.emplace_back(dst, st);
                       });
        for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
            auto& [dst, st] = *it;
            UniqueFd path_fd = writer.ensure_dir(dst);
            UniqueFd dir(::openat(path_fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            struct timespec times[2] = {st.st_mtim, st.st_mtim};
            if (!dir || ::futimens(dir.get(), times) != 0) throw_errno("set times of " + dst);
        }
    }
}

}  // namespace kiln::builder

namespace kiln::builder {

UniqueFd open_destination_dir(const std::string& upper_dir, const SourceTree* lower,
                              const CopyOptions& options, const std::string& dir) {
    LayerWriter writer(upper_dir, lower, options);
    return writer.ensure_dir(dir);
}

}  // namespace kiln::builder
