#pragma once
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "builder/cache_explain.hpp"
#include "builder/source_tree.hpp"
#include "parser/ast.hpp"
#include "util/digest.hpp"

namespace kiln::builder {

// One source of a COPY, already resolved: a path in the source tree (file, directory or
// symlink) or an inline heredoc, and where it lands in the image.
struct CopyItem {
    std::string source;        // relative path in the tree ("" = the tree's root)
    std::optional<std::string> inline_content;  // heredoc body instead of a tree path
    std::string destination;   // absolute path in the image
    bool contents_only = false;  // a directory source: its contents go into destination
};

struct CopyOptions {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::optional<mode_t> mode;  // --chmod
};

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

// Docker's rules: wildcards expand against the tree, a directory source copies its
// contents, several sources (or a wildcard) need a destination ending in "/", a file goes
// into the destination when that ends in "/" or is a directory in the image (`lower`).
std::vector<CopyItem> plan_copy(const SourceTree& tree, const std::vector<std::string>& sources,
                                const std::vector<parser::Heredoc>& heredocs,
                                const std::string& destination, const SourceTree* lower,
                                const ExcludeFn& excluded);

// Digest of everything the copy would write (paths, types, modes, owners, link targets,
// file bytes; never mtimes): the COPY part of the step's cache key.
// listing, when given, receives each entry as the digest saw it (for --explain-cache).
Digest digest_copy(const SourceTree& tree, const std::vector<CopyItem>& items,
                   const CopyOptions& options, const ExcludeFn& excluded,
                   std::vector<SourceEntry>* listing = nullptr);

// Writes the copy into a layer's upper directory. Directories the destination needs that
// already exist in `lower` keep their owner and mode. Nothing is written outside upper_dir:
// every path is resolved inside it.
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
