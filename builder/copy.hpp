#pragma once
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/cache_explain.hpp"
#include "builder/chmod_spec.hpp"
#include "builder/source_tree.hpp"
#include "parser/ast.hpp"
#include "util/digest.hpp"

namespace kiln::parser {
class PatternMatcher;
}

namespace kiln::builder {

// One source of a COPY, already resolved: a path in the source tree (file, directory or
// symlink) or an inline heredoc, and where it lands in the image.
struct CopyItem {
    std::string source;        // relative path in the tree ("" = the tree's root)
    std::optional<std::string> inline_content;  // heredoc body instead of a tree path
    std::string destination;   // absolute path in the image
    bool contents_only = false;  // a directory source: its contents go into destination
    bool directory_only = false;  // --parents: a directory on the way, without its contents
    // --parents: --exclude patterns match paths relative to this (the part before "/./",
    // else the tree's root), and the item itself may be excluded. Otherwise they match
    // paths below `source`, as BuildKit filters a source's contents, never the source.
    std::optional<std::string> pattern_root = std::nullopt;
};

struct CopyOptions {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::optional<mode_t> mode;  // --chmod in octal
    std::optional<ChmodSpec> chmod;  // --chmod in either form; wins over mode
    // COPY --from without --chown: every entry keeps the owner it has in the source (a
    // build context's files always go to 0:0, as in Docker).
    bool keep_owner = false;
    // --exclude=PATTERN (repeatable), .dockerignore syntax; null when none.
    std::shared_ptr<const parser::PatternMatcher> excludes;
};

// Switches of plan_copy beyond Docker's classic rules.
struct CopyPlanFlags {
    // COPY --parents: each source keeps its path relative to the tree (or to the part before
    // "/./" in `a/./b/c`) below the destination, which is then always a directory.
    bool parents = false;
};

// Heredoc sources as COPY writes them: `<<-` strips leading tabs, then an unquoted
// delimiter has its body expanded by `expand` (BuildKit: variables, no quote removal);
// a quoted one is kept as written.
std::vector<parser::Heredoc> heredoc_sources(const std::vector<parser::Heredoc>& heredocs,
                                             const std::function<std::string(const std::string&)>& expand);

// What .dockerignore hides from COPY: true for excluded context paths. When exceptions
// ("!pattern") exist, an excluded directory may still hold re-included entries, so it is
// walked (without being copied itself) instead of skipped.
class ExcludeFn {
public:
    ExcludeFn() = default;
    ExcludeFn(std::nullptr_t) {}
    template <typename Fn>
    ExcludeFn(Fn fn, bool walk_excluded_dirs = false)
        : fn_(std::move(fn)), walk_excluded_dirs_(walk_excluded_dirs) {}
    explicit operator bool() const { return static_cast<bool>(fn_); }
    bool operator()(std::string_view rel) const { return fn_ && fn_(rel); }
    bool walk_excluded_dirs() const { return walk_excluded_dirs_; }

private:
    std::function<bool(std::string_view)> fn_;
    bool walk_excluded_dirs_ = false;
};

// Docker's rules: wildcards expand against the tree (one matching nothing is fine beside
// other sources), a directory source copies its contents, a source that is a symlink copies
// what it points to, several sources (or a wildcard matching several) need a destination
// ending in "/", a file goes into the destination when that ends in "/" or is a directory
// in the image (`lower`, its symlinks followed inside it).
std::vector<CopyItem> plan_copy(const SourceTree& tree, const std::vector<std::string>& sources,
                                const std::vector<parser::Heredoc>& heredocs,
                                const std::string& destination, const SourceTree* lower,
                                const ExcludeFn& excluded, const CopyPlanFlags& flags = {});

// Digest of everything the copy would write (paths, types, modes, owners, link targets,
// file bytes; never mtimes): the COPY part of the step's cache key.
// listing, when given, receives each entry as the digest saw it (for --explain-cache).
Digest digest_copy(const SourceTree& tree, const std::vector<CopyItem>& items,
                   const CopyOptions& options, const ExcludeFn& excluded,
                   std::vector<SourceEntry>* listing = nullptr);

// Writes the copy into a layer's upper directory. Directories the destination needs that
// already exist in `lower` keep their owner and mode; a symlink on the way (in `lower` or
// written by this copy) is followed inside the image's root, as Docker does. Hard links
// within the copy stay hard links; user.* xattrs are kept. Nothing is written outside
// upper_dir: every path is resolved inside it.
void apply_copy(const SourceTree& tree, const std::vector<CopyItem>& items,
                const CopyOptions& options, const ExcludeFn& excluded,
                const std::string& upper_dir, const SourceTree* lower);

}  // namespace kiln::builder

namespace kiln::builder {

// The directory at absolute image path `dir` in a layer's upper directory, made as
// apply_copy makes a destination (missing ones like `lower`'s, else owned as options say),
// resolved inside upper_dir. ADD unpacks archives into it.
UniqueFd open_destination_dir(const std::string& upper_dir, const SourceTree* lower,
                              const CopyOptions& options, const std::string& dir);

}  // namespace kiln::builder
