#include "builder/copy.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <variant>

#include "parser/dockerignore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

// A wildcard as Go's filepath.Match has them; a backslash escapes the next character.
bool has_wildcard(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\') ++i;
        else if (s[i] == '*' || s[i] == '?' || s[i] == '[') return true;
    }
    return false;
}

std::string child(std::string_view dir, std::string_view name) {
    return dir.empty() ? std::string(name) : std::string(dir) + "/" + std::string(name);
}

std::string base_name(std::string_view path) {
    auto slash = path.find_last_of('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// A path as a relative tree path: "/a/../b" → "b", "/" → "".
std::string tree_rel(std::string_view path) {
    std::string cleaned = clean_path("/" + std::string(path));
    return cleaned == "/" ? "" : cleaned.substr(1);
}

// rel below root ("" for root itself); rel must be root or inside it.
std::string below(const std::string& root, const std::string& rel) {
    if (root.empty()) return rel;
    return rel.size() > root.size() ? rel.substr(root.size() + 1) : "";
}

bool has_visible_descendant(const SourceTree& tree, const std::string& dir, const ExcludeFn& excluded) {
    for (const auto& name : tree.list(dir)) {
        std::string path = child(dir, name);
        if (!excluded(path)) return true;
        auto st = tree.stat(path);
        if (st && S_ISDIR(st->st_mode) && has_visible_descendant(tree, path, excluded)) return true;
    }
    return false;
}

// Whether rel can be a COPY source: it exists and .dockerignore leaves it, or it is an
// excluded directory that holds re-included entries (`**` then `!dir/keep`), which Docker's
// context still has.
bool visible(const SourceTree& tree, const std::string& rel, const ExcludeFn& excluded) {
    auto st = tree.stat(rel);
    if (!st) return false;
    if (!excluded || rel.empty() || !excluded(rel)) return true;
    return excluded.walk_excluded_dirs() && S_ISDIR(st->st_mode) && has_visible_descendant(tree, rel, excluded);
}

// Expands a source pattern component by component against the tree.
void expand_pattern(const SourceTree& tree, const std::vector<std::string>& parts, std::size_t i,
                    const std::string& prefix, const ExcludeFn& excluded,
                    std::vector<std::string>& out) {
    if (i == parts.size()) {
        if (visible(tree, prefix, excluded)) out.push_back(prefix);
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
        expand_pattern(tree, parts, i + 1, child(prefix, name), excluded, out);
    }
}

[[noreturn]] void not_found(const std::string& source) {
    throw Error("COPY failed: file not found in build context or excluded by "
                ".dockerignore: stat " + source + ": file does not exist");
}

// The matches of one source: several for a wildcard, none for one matching nothing.
std::vector<std::string> matches_of(const SourceTree& tree, const std::string& source, const std::string& rel,
                                    const ExcludeFn& excluded) {
    std::vector<std::string> matches;
    if (has_wildcard(rel)) {
        expand_pattern(tree, split_path(rel), 0, "", excluded, matches);
    } else {
        if (!visible(tree, rel, excluded)) not_found(source);
        matches.push_back(rel);
    }
    return matches;
}

// COPY --parents: `a/./b/c` keeps b/c below the destination, `a/b/c` all of it.
void plan_parents(const SourceTree& tree, const std::string& source, const std::string& dest,
                  const ExcludeFn& excluded, std::set<std::string>& dirs_planned,
                  std::vector<CopyItem>& items) {
    auto pivot_at = source.find("/./");
    std::string pivot = pivot_at == std::string::npos ? "" : tree_rel(source.substr(0, pivot_at));
    std::string pattern = tree_rel(pivot_at == std::string::npos ? source : source.substr(pivot_at + 3));
    std::string rel = pattern.empty() ? pivot : child(pivot, pattern);
    for (const auto& match : matches_of(tree, source, rel, excluded)) {
        std::string kept = below(pivot, match);
        auto parts = split_path(kept);
        // The directories between the pivot and the match come along with their own
        // metadata, each once however many sources pass through it.
        std::string on_the_way;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            on_the_way = child(on_the_way, parts[i]);
            if (dirs_planned.insert(on_the_way).second)
                items.push_back({child(pivot, on_the_way), std::nullopt, safe_join(dest, on_the_way), false, true, pivot});
        }
        items.push_back({match, std::nullopt, kept.empty() ? dest : safe_join(dest, kept), kept.empty(), false, pivot});
    }
}

}  // namespace

std::vector<parser::Heredoc> heredoc_sources(const std::vector<parser::Heredoc>& heredocs,
                                             const std::function<std::string(const std::string&)>& expand) {
    std::vector<parser::Heredoc> out = heredocs;
    for (auto& doc : out) {
        if (doc.chomp) {
            std::string chomped;
            bool line_start = true;
            for (char c : doc.content) {
                if (line_start && c == '\t') continue;
                chomped += c;
                line_start = c == '\n';
            }
            doc.content = std::move(chomped);
        }
        if (doc.expand && expand) doc.content = expand(doc.content);
    }
    return out;
}

std::vector<CopyItem> plan_copy(const SourceTree& tree, const std::vector<std::string>& sources,
                                const std::vector<parser::Heredoc>& heredocs,
                                const std::string& destination, const SourceTree* lower,
                                const ExcludeFn& excluded, const CopyPlanFlags& flags) {
    if (sources.empty()) throw Error("COPY needs at least one source and a destination");
    std::string dest = clean_path(destination);
    bool dest_is_dir = destination.ends_with('/') || destination.ends_with("/.") ||
                       destination == "." || flags.parents;
    if (!dest_is_dir && lower && dest != "/") {
        // A destination that is a link to a directory in the image is that directory.
        auto resolved = resolve_in_tree(*lower, dest.substr(1), true);
        auto st = resolved ? lower->stat(*resolved) : std::nullopt;
        dest_is_dir = st && S_ISDIR(st->st_mode);
    }
    if (dest == "/") dest_is_dir = true;

    std::vector<CopyItem> items;
    std::set<std::string> dirs_planned;
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
        if (flags.parents) {
            plan_parents(tree, source, dest, excluded, dirs_planned, items);
            continue;
        }
        auto matches = matches_of(tree, source, tree_rel(source), excluded);
        if (matches.size() > 1) several = true;
        for (auto& match : matches) {
            // A source that is a symlink is copied as what it points to, resolved inside
            // the tree (links inside a copied directory stay links).
            std::string from = match;
            if (auto st = tree.stat(match); st && S_ISLNK(st->st_mode)) {
                auto resolved = resolve_in_tree(tree, match, true);
                if (!resolved || !tree.stat(*resolved) || S_ISLNK(tree.stat(*resolved)->st_mode))
                    throw Error("COPY failed: " + source + " is a symlink to nothing in the source");
                from = *resolved;
            }
            auto st = tree.stat(from);
            if (st && S_ISDIR(st->st_mode)) {
                items.push_back({from, std::nullopt, dest, true});
            } else {
                std::string target = dest_is_dir || several ? safe_join(dest, base_name(match)) : dest;
                items.push_back({from, std::nullopt, target, false});
            }
        }
    }
    if (items.empty()) not_found(sources.front());
    if (several && !dest_is_dir)
        throw Error("When using COPY with more than one source file, the destination must be "
                    "a directory and end with a /");
    return items;
}

namespace {

mode_t effective_mode(const struct stat& st, const CopyOptions& o) {
    if (S_ISLNK(st.st_mode)) return st.st_mode & 07777;
    if (o.chmod) return o.chmod->apply(st.st_mode, S_ISDIR(st.st_mode));
    if (o.mode) return *o.mode;
    return st.st_mode & 07777;
}

std::pair<uid_t, gid_t> effective_owner(const struct stat& st, const CopyOptions& o) {
    if (o.uid) return {*o.uid, o.gid.value_or(*o.uid)};
    if (o.keep_owner) return {st.st_uid, st.st_gid};
    return {0, 0};
}

using EntryVisitor = std::function<void(const std::string&, const std::string&, const struct stat&)>;

// Walks what one copy item writes, depth-first with names sorted, so the same tree always
// gives the same sequence. A directory that .dockerignore or --exclude hides but that holds
// re-included entries is written (with its own metadata) just before the first of them.
class EntryWalk {
public:
    EntryWalk(const SourceTree& tree, const CopyItem& item, const ExcludeFn& ignored,
              const CopyOptions& options, const EntryVisitor& visit)
        : tree_(tree), item_(item), ignored_(ignored), options_(options), visit_(visit) {}

    void run() {
        auto st = tree_.stat(item_.source);
        if (!st) throw Error("COPY failed: " + item_.source + " disappeared during the build");
        if (!item_.contents_only) {
            if (item_.pattern_root && excluded_by_flag(item_.source)) return;
            visit_(item_.source, item_.destination, *st);
            if (!S_ISDIR(st->st_mode) || item_.directory_only) return;
        }
        walk(item_.source, item_.destination, 0);
    }

private:
    enum class Seen { shown, hidden_walked, hidden };

    bool excluded_by_flag(const std::string& rel) const {
        if (!options_.excludes) return false;
        std::string relative = below(item_.pattern_root.value_or(item_.source), rel);
        return !relative.empty() && options_.excludes->matches(relative);
    }

    Seen seen(const std::string& rel) const {
        bool by_ignore = ignored_ && ignored_(rel);
        bool by_flag = excluded_by_flag(rel);
        if (!by_ignore && !by_flag) return Seen::shown;
        bool walk = (!by_ignore || ignored_.walk_excluded_dirs()) && (!by_flag || options_.excludes->has_exclusions());
        return walk ? Seen::hidden_walked : Seen::hidden;
    }

    void show(const std::string& src, const std::string& dst, const struct stat& st) {
        for (auto& [s, d, dst_st] : pending_) visit_(s, d, dst_st);
        pending_.clear();
        visit_(src, dst, st);
    }

    void walk(const std::string& src, const std::string& dst, int depth) {
        if (depth > 4096) throw Error("COPY failed: " + src + " is nested too deeply");
        for (const auto& name : tree_.list(src)) {
            std::string s = child(src, name);
            Seen how = seen(s);
            if (how == Seen::hidden) continue;
            auto st = tree_.stat(s);
            if (!st) continue;
            std::string d = safe_join(dst, name);
            bool dir = S_ISDIR(st->st_mode);
            if (how == Seen::shown) {
                show(s, d, *st);
                if (dir) walk(s, d, depth + 1);
            } else if (dir) {
                pending_.emplace_back(s, d, *st);
                std::size_t mine = pending_.size();
                walk(s, d, depth + 1);
                if (pending_.size() >= mine) pending_.resize(mine - 1);
            }
        }
    }

    const SourceTree& tree_;
    const CopyItem& item_;
    const ExcludeFn& ignored_;
    const CopyOptions& options_;
    const EntryVisitor& visit_;
    std::vector<std::tuple<std::string, std::string, struct stat>> pending_;
};

void for_each_entry(const SourceTree& tree, const CopyItem& item, const ExcludeFn& excluded,
                    const CopyOptions& options, const EntryVisitor& visit) {
    EntryWalk(tree, item, excluded, options, visit).run();
}

void hash_field(Sha256& h, std::string_view v) {
    std::uint64_t n = v.size();
    h.update(&n, sizeof n);
    h.update(v);
}

using InodeKey = std::pair<dev_t, ino_t>;

// A regular file seen before under another name in this copy: hard links stay links.
std::optional<std::string> earlier_link(std::map<InodeKey, std::string>& seen, const struct stat& st,
                                        const std::string& dst) {
    if (!S_ISREG(st.st_mode) || st.st_nlink < 2) return std::nullopt;
    auto [it, inserted] = seen.emplace(InodeKey{st.st_dev, st.st_ino}, dst);
    if (inserted) return std::nullopt;
    return it->second;
}

}  // namespace

Digest digest_copy(const SourceTree& tree, const std::vector<CopyItem>& items,
                   const CopyOptions& options, const ExcludeFn& excluded, std::vector<SourceEntry>* listing) {
    Sha256 h;
    std::map<InodeKey, std::string> inodes;
    for (const auto& item : items) {
        if (item.inline_content) {
            hash_field(h, "inline");
            hash_field(h, item.destination);
            hash_field(h, *item.inline_content);
            if (listing) listing->push_back({item.destination, "heredoc", sha256_of(*item.inline_content).str()});
            continue;
        }
        for_each_entry(tree, item, excluded, options,
                       [&](const std::string& src, const std::string& dst, const struct stat& st) {
                           hash_field(h, dst);
                           std::string meta = std::to_string(st.st_mode & S_IFMT) + ":" +
                                              std::to_string(effective_mode(st, options));
                           if (options.keep_owner && !options.uid)
                               meta += ":" + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
                           hash_field(h, meta);
                           if (auto first = earlier_link(inodes, st, dst)) {
                               hash_field(h, "hardlink");
                               hash_field(h, *first);
                               if (listing) listing->push_back({dst, "hardlink", *first});
                               return;
                           }
                           std::string content;
                           if (S_ISLNK(st.st_mode))
                               content = tree.read_link(src);
                           else if (S_ISREG(st.st_mode))
                               content = tree.file_digest(src, st).str();
                           if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode)) hash_field(h, content);
                           if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
                               for (const auto& [name, value] : tree.user_xattrs(src)) {
                                   hash_field(h, name);
                                   hash_field(h, value);
                                   meta += " " + name;
                               }
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
    // A symlink on the way, in this layer or in the image below, is followed as the image
    // would follow it: relative to its directory, an absolute target from the image's root.
    UniqueFd ensure_dir(const std::string& dir) {
        std::string path = clean_path(dir);
        if (!last_dir_fd_ || path != last_dir_) {
            last_dir_fd_ = follow_dir(path);
            last_dir_ = path;
        }
        UniqueFd copy(::fcntl(last_dir_fd_.get(), F_DUPFD_CLOEXEC, 0));
        if (!copy) throw_errno("dup " + path);
        return copy;
    }

    // The parent directory of image path `cleaned` (opened) and the last component.
    std::pair<UniqueFd, std::string> parent_of(const std::string& cleaned) {
        auto slash = cleaned.find_last_of('/');
        return {ensure_dir(slash == 0 ? "/" : cleaned.substr(0, slash)), cleaned.substr(slash + 1)};
    }

    void write_entry(const SourceTree& tree, const std::string& src, const std::string& dst,
                     const struct stat& st) {
        std::string cleaned = clean_path(dst);
        if (cleaned == "/") {
            if (S_ISDIR(st.st_mode)) return;
            throw Error("COPY failed: cannot copy a file to /");
        }
        auto [parent, name] = parent_of(cleaned);
        auto [uid, gid] = effective_owner(st, options_);
        mode_t mode = effective_mode(st, options_);
        struct timespec times[2] = {st.st_mtim, st.st_mtim};

        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
                throw_errno("mkdir " + cleaned);
            UniqueFd dir(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!dir) throw_errno("open " + cleaned);
            set_attributes(dir.get(), cleaned, uid, gid, mode, times);
            copy_xattrs(tree, src, dir.get(), cleaned);
            return;
        }
        remove_existing(parent.get(), name, cleaned);
        if (auto first = earlier_link(inodes_, st, cleaned)) {
            auto [first_parent, first_name] = parent_of(*first);
            if (::linkat(first_parent.get(), first_name.c_str(), parent.get(), name.c_str(), 0) != 0)
                throw_errno("link " + cleaned + " to " + *first);
            return;
        }
        if (S_ISLNK(st.st_mode)) {
            std::string target = tree.read_link(src);
            if (::symlinkat(target.c_str(), parent.get(), name.c_str()) != 0)
                throw_errno("symlink " + cleaned);
            forget_last_dir();
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
        copy_xattrs(tree, src, out.get(), cleaned);
    }

    void write_inline(const std::string& dst, const std::string& content) {
        std::string cleaned = clean_path(dst);
        auto [parent, name] = parent_of(cleaned);
        remove_existing(parent.get(), name, cleaned);
        UniqueFd out(::openat(parent.get(), name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!out) throw_errno("create " + cleaned);
        write_all(out.get(), content, cleaned);
        uid_t uid = options_.uid.value_or(0);
        gid_t gid = options_.gid.value_or(options_.uid ? *options_.uid : 0);
        struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
        mode_t mode = options_.chmod ? options_.chmod->apply(0644, false) : options_.mode.value_or(0644);
        set_attributes(out.get(), cleaned, uid, gid, mode, now);
    }

private:
    UniqueFd follow_dir(const std::string& path) {
        std::string next = path;
        for (int links = 0; links <= 40; ++links) {
            auto followed = open_dir_path(next);
            if (auto* fd = std::get_if<UniqueFd>(&followed)) return std::move(*fd);
            next = std::get<std::string>(followed);
        }
        throw Error("COPY failed: too many levels of symbolic links in " + path);
    }

    // Walks `path` one component at a time inside upper: the directory, or the path to
    // try next when a component is a symlink (in upper, or in lower where upper has nothing).
    std::variant<UniqueFd, std::string> open_dir_path(const std::string& path) {
        UniqueFd fd = open_in_root(upper_fd_.get(), "/", O_PATH | O_DIRECTORY);
        auto parts = split_path(path);
        std::string prefix;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const std::string& part = parts[i];
            std::string parent = prefix.empty() ? "/" : prefix;
            prefix += "/" + part;
            UniqueFd next(::openat(fd.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!next) {
                std::optional<std::string> target;
                if (errno == ENOTDIR || errno == ELOOP) {
                    target = upper_link(fd.get(), part, prefix);
                } else if (errno == ENOENT) {
                    target = lower_link(prefix);
                    if (!target) make_dir_like_lower(fd.get(), part, prefix);
                } else {
                    throw_errno("open " + prefix);
                }
                if (target) {
                    std::string rest;
                    for (std::size_t j = i + 1; j < parts.size(); ++j) rest += "/" + parts[j];
                    std::string base = target->starts_with('/') ? "" : parent + "/";
                    return clean_path(base + *target + rest);
                }
                next = UniqueFd(::openat(fd.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!next) throw_errno("open " + prefix);
            }
            fd = std::move(next);
        }
        return std::variant<UniqueFd, std::string>(std::move(fd));
    }

    static std::string upper_link(int parent_fd, const std::string& name, const std::string& path) {
        std::string target(4096, '\0');
        ssize_t n = ::readlinkat(parent_fd, name.c_str(), target.data(), target.size());
        if (n < 0) throw Error("COPY failed: " + path + " is not a directory");
        target.resize(static_cast<std::size_t>(n));
        return target;
    }

    std::optional<std::string> lower_link(const std::string& path) const {
        if (!lower_) return std::nullopt;
        auto below = lower_->stat(path.substr(1));
        if (!below || !S_ISLNK(below->st_mode)) return std::nullopt;
        return lower_->read_link(path.substr(1));
    }

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

    static void copy_xattrs(const SourceTree& tree, const std::string& src, int fd, const std::string& path) {
        for (const auto& [name, value] : tree.user_xattrs(src))
            if (::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) != 0)
                throw_errno("set xattr " + name + " of " + path);
    }

    void remove_existing(int parent_fd, const std::string& name, const std::string& path) {
        struct stat st;
        if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
        if (S_ISDIR(st.st_mode))
            throw Error("COPY failed: cannot replace directory " + path + " with a file");
        if (::unlinkat(parent_fd, name.c_str(), 0) != 0) throw_errno("replace " + path);
        forget_last_dir();
    }

    // A link removed or made may change where a path leads: the kept folder is walked again.
    void forget_last_dir() {
        last_dir_fd_.reset();
        last_dir_.clear();
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
    // Entries arrive folder by folder: the last folder opened (after the links on its way
    // were followed) serves the next entry without a walk from the layer's root.
    std::string last_dir_;
    UniqueFd last_dir_fd_;
    const SourceTree* lower_;
    CopyOptions options_;
    std::map<InodeKey, std::string> inodes_;  // hard-linked sources → where the first went
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
        for_each_entry(tree, item, excluded, options,
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
