#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::parser {

// .dockerignore handling with moby/patternmatcher semantics (what BuildKit and Docker use),
// plus the build-context walker with tonistiigi/fsutil's include/exclude filtering.

// Reads a .dockerignore file into patterns, like patternmatcher/ignorefile.ReadAll: a
// leading UTF-8 BOM is dropped, lines starting with '#' are comments, lines are trimmed,
// empty ones dropped, "!" is split off and the rest trimmed, path-cleaned and stripped of
// one leading '/'. "!" alone is kept (PatternMatcher then rejects it).
std::vector<std::string> read_dockerignore(std::string_view content);

// The ignore patterns for a build, chosen as BuildKit does: "<Dockerfile path>.dockerignore"
// (e.g. "app/Dockerfile.dev.dockerignore") when that file exists, otherwise
// "<context>/.dockerignore"; none → empty. Throws kiln::Error when a file exists but cannot
// be read.
std::vector<std::string> load_dockerignore(const std::string& context_dir,
                                           const std::string& dockerfile_path);

// How a pattern is matched (patternmatcher's matchType).
enum class MatchType {
    exact,   // plain string comparison
    prefix,  // "dir/**": the part before "**" is a string prefix
    suffix,  // "**/x", "**x": the part after "**" is a string suffix ("**/x" also matches "x")
    regexp,  // anything with wildcards, classes or escapes
};

const char* to_string(MatchType type);

// One compiled pattern. Go filepath.Match syntax: `*` (not '/'), `?` (one character, not
// '/'), `[...]` / `[^...]` with ranges, `\c` literal c, and `**` for any number of path
// components.
class Pattern {
public:
    // `text` is already cleaned and without its leading '!'. Throws kiln::Error when the
    // syntax is invalid.
    Pattern(std::string text, bool exclusion);

    const std::string& text() const { return text_; }
    bool exclusion() const { return exclusion_; }
    MatchType type() const { return type_; }
    // The anchored Go regexp patternmatcher would use (empty unless type() is regexp).
    const std::string& regexp() const { return regexp_; }

    // Whole-path match of a '/'-separated path (no parent-directory logic).
    bool match(std::string_view path) const;

private:
    struct Program;
    std::string text_;
    bool exclusion_;
    MatchType type_ = MatchType::exact;
    std::string regexp_;
    std::shared_ptr<const Program> program_;  // immutable, so copies share it
};

// Per-pattern results for a directory, reused for its children during a walk
// (patternmatcher.MatchInfo).
struct MatchInfo {
    std::vector<bool> parent_matched;
};

class PatternMatcher {
public:
    PatternMatcher() = default;
    // Each pattern is trimmed, dropped when empty, path-cleaned; a leading '!' makes an
    // exception ("!" alone is an error). Throws kiln::Error on invalid syntax.
    explicit PatternMatcher(const std::vector<std::string>& patterns);

    bool empty() const { return patterns_.empty(); }
    bool has_exclusions() const { return exclusions_; }
    const std::vector<Pattern>& patterns() const { return patterns_; }

    // True when path, or one of its parent directories, is matched and not re-included by
    // a later exception: the last applicable pattern wins. This is how a build context is
    // filtered (MatchesOrParentMatches).
    bool matches(std::string_view path) const;

    // No parent-directory logic (MatchesExact).
    bool matches_exact(std::string_view path) const;

    // Incremental form for walkers: `parent` holds the parent directory's result (or is
    // empty for a top-level entry); `info` receives this path's result for its children.
    bool matches_using_parent(std::string_view path, const MatchInfo& parent,
                              MatchInfo& info) const;

private:
    std::vector<Pattern> patterns_;
    bool exclusions_ = false;
};

enum class EntryType { file, dir, symlink, other };

const char* to_string(EntryType type);

struct WalkEntry {
    std::string path;  // relative to the context root, '/'-separated, no leading "./"
    EntryType type;
    struct stat st;    // lstat of the entry (symlinks are never followed)
    std::string link_target;  // for a symlink: its target as stored (readlinkat)
};

// Include/exclude filtering of a build context, as fsutil's FilterFS does it.
class ContextFilter {
public:
    // `includes` selects (empty = everything); `excludes` are .dockerignore patterns.
    // Throws kiln::Error when either list is invalid.
    ContextFilter(const std::vector<std::string>& includes, const std::vector<std::string>& excludes);
    ContextFilter(const std::vector<std::string>& includes, PatternMatcher excludes);

    // Whether a single path is visible through the filter (fsutil's filtered Open).
    bool visible(std::string_view path) const;

    // An include list was given; even if all its entries were blank it then selects nothing.
    bool has_includes() const { return has_includes_; }
    const PatternMatcher& includes() const { return includes_; }
    const PatternMatcher& excludes() const { return excludes_; }
    bool only_prefix_includes() const { return only_prefix_includes_; }
    bool only_prefix_exclude_exceptions() const { return only_prefix_exclude_exceptions_; }

private:
    void classify();
    bool has_includes_ = false;
    PatternMatcher includes_;
    PatternMatcher excludes_;
    bool only_prefix_includes_ = true;
    bool only_prefix_exclude_exceptions_ = true;
};

// Walks the context under `root` depth-first, names sorted bytewise within a directory, a
// directory before its children, calling `visit` for every selected entry. A directory that
// is not selected itself is still visited (just before its first selected descendant) when
// something inside it is selected. Excluded directories are skipped without being read
// unless an exception could match inside them. Entries are lstat'ed; symlinks are reported,
// never followed. Throws kiln::Error on I/O errors (a permission error inside a directory
// that is not itself selected is ignored).
void walk_context(const std::string& root, const ContextFilter& filter,
                  const std::function<void(const WalkEntry&)>& visit);

// Convenience: excludes from a .dockerignore, includes as pattern strings.
void walk_context(const std::string& root, const PatternMatcher& excludes,
                  const std::vector<std::string>& includes,
                  const std::function<void(const WalkEntry&)>& visit);

// Directories nested deeper than this under the context root are refused.
inline constexpr int kMaxContextDepth = 512;

}  // namespace kiln::parser
