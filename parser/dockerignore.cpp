// .dockerignore patterns (moby/patternmatcher semantics) and the context walker
// (tonistiigi/fsutil FilterFS semantics).
#include "parser/dockerignore.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "parser/utf8.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::parser {

namespace {

constexpr char32_t kRuneError = 0xFFFD;

// Decodes like Go's range over a string: an invalid byte is one U+FFFD.
std::vector<char32_t> runes_of(std::string_view s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        DecodedRune d = decode_utf8(s, i);
        out.push_back(d.valid ? d.rune : kRuneError);
        i += d.length;
    }
    return out;
}

// Characters patternmatcher escapes when building its regexp: they are literal in
// filepath.Match but special in a regexp.
bool should_escape(char32_t c) {
    switch (c) {
    case '.': case '+': case '(': case ')': case '|': case '{': case '}': case '$':
        return true;
    default:
        return false;
    }
}

kiln::Error bad_pattern(std::string_view pattern) {
    return kiln::Error("syntax error in pattern \"" + std::string(pattern) +
                       "\" (see the .dockerignore syntax: *, ?, [a-z], [^a-z], \\c, **)");
}

// Go's filepath.Match syntax check (Unix): brackets must close, ranges must have both
// ends, ']' and '-' must be escaped where they would be ambiguous, '\' needs a character
// after it.
void validate_syntax(std::string_view text, const std::vector<char32_t>& p) {
    std::size_t n = p.size();
    // A class item (getEsc): there must be a character, it must not be a bare '-' or ']',
    // and the class must continue after it.
    auto item = [&](std::size_t& i) {
        if (i >= n || p[i] == '-' || p[i] == ']') throw bad_pattern(text);
        if (p[i] == '\\') {
            ++i;
            if (i >= n) throw bad_pattern(text);
        }
        ++i;
        if (i >= n) throw bad_pattern(text);
    };
    for (std::size_t i = 0; i < n;) {
        char32_t c = p[i];
        if (c == '\\') {
            if (i + 1 >= n) throw bad_pattern(text);
            i += 2;
        } else if (c == '[') {
            ++i;
            if (i < n && p[i] == '^') ++i;
            for (int nrange = 0;; ++nrange) {
                if (i < n && p[i] == ']' && nrange > 0) {
                    ++i;
                    break;
                }
                item(i);
                if (p[i] == '-') {
                    ++i;
                    item(i);
                }
            }
        } else {
            ++i;
        }
    }
}

void append_rune(std::string& out, char32_t r) { append_utf8(out, r); }

std::string_view trim(std::string_view s) { return trim_unicode(s); }

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Go's filepath.Dir.
std::string go_dir(std::string_view path) {
    auto slash = path.rfind('/');
    std::string_view dir = slash == std::string_view::npos ? "" : path.substr(0, slash + 1);
    return clean_path(dir);
}

// strings.Split keeps empty fields.
std::vector<std::string_view> split_keep_empty(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        auto p = s.find('/', start);
        if (p == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, p - start));
        start = p + 1;
    }
}

// Tries `pattern` on each ancestor of `path` ("a", "a/b", ...), as patternmatcher does
// when the path itself did not match.
bool ancestor_matches(const Pattern& pattern, std::string_view path) {
    std::string parent = go_dir(path);
    if (parent == ".") return false;
    std::string prefix;
    bool first = true;
    for (std::string_view part : split_keep_empty(parent)) {
        if (!first) prefix += '/';
        first = false;
        prefix.append(part);
        if (pattern.match(prefix)) return true;
    }
    return false;
}

// patternWithoutTrailingGlob in fsutil.
std::string without_trailing_glob(const std::string& text) {
    std::string s = text;
    if (ends_with(s, "/**")) s.resize(s.size() - 3);
    if (ends_with(s, "/*")) s.resize(s.size() - 2);
    return s;
}

bool has_pattern_chars(const std::string& s) {
    return s.find_first_of("*[]?^\\") != std::string::npos;
}

}  // namespace

// --- reading ------------------------------------------------------------------------------

std::vector<std::string> read_dockerignore(std::string_view content) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    bool first = true;
    while (pos < content.size()) {
        auto nl = content.find('\n', pos);
        std::string_view line =
            content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? content.size() : nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (first && starts_with(line, "\xEF\xBB\xBF")) line.remove_prefix(3);
        first = false;
        // Only a '#' in the very first column starts a comment.
        if (!line.empty() && line[0] == '#') continue;
        std::string_view pattern = trim(line);
        if (pattern.empty()) continue;
        bool invert = pattern[0] == '!';
        if (invert) pattern = trim(pattern.substr(1));
        std::string cleaned;
        if (!pattern.empty()) {
            cleaned = clean_path(pattern);
            if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
        }
        out.push_back(invert ? "!" + cleaned : cleaned);
    }
    return out;
}

std::vector<std::string> load_dockerignore(const std::string& context_dir,
                                           const std::string& dockerfile_path) {
    for (const std::string& candidate :
         {dockerfile_path + ".dockerignore", context_dir + "/.dockerignore"}) {
        struct stat st;
        if (::stat(candidate.c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) continue;
            throw_errno("cannot read " + candidate);
        }
        return read_dockerignore(read_file(candidate));
    }
    return {};
}

// --- patterns -----------------------------------------------------------------------------

const char* to_string(MatchType type) {
    switch (type) {
    case MatchType::exact: return "exact";
    case MatchType::prefix: return "prefix";
    case MatchType::suffix: return "suffix";
    case MatchType::regexp: return "regexp";
    }
    return "?";
}

// The regexp patternmatcher builds, as a token program matched by dynamic programming
// (linear in path length per token, no backtracking blow-up).
struct Pattern::Program {
    enum class Op {
        literal,    // one rune
        not_slash,  // `?`  → [^/]
        star,       // `*`  → [^/]*
        any_run,    // `**` at the end → .*  (Go's `.` excludes '\n')
        dirs,       // `**/` elsewhere → (.*/)?
        cls,        // [...] / [^...]
    };
    struct Token {
        Token(Op o, char32_t r = 0) : op(o), rune(r) {}
        Op op;
        char32_t rune;
        bool negated = false;
        std::vector<std::pair<char32_t, char32_t>> ranges;
    };
    std::vector<Token> tokens;

    static bool class_has(const Token& t, char32_t r) {
        bool in = false;
        for (auto [lo, hi] : t.ranges) {
            if (r >= lo && r <= hi) {
                in = true;
                break;
            }
        }
        return in != t.negated;
    }

    bool match(std::string_view path) const {
        // Reused between calls: a context walk matches every path against every pattern.
        thread_local std::vector<char32_t> s;
        thread_local std::vector<char> next, cur;
        s.clear();
        for (std::size_t i = 0; i < path.size();) {
            auto b = static_cast<unsigned char>(path[i]);
            if (b < 0x80) {
                s.push_back(b);
                ++i;
                continue;
            }
            DecodedRune d = decode_utf8(path, i);
            s.push_back(d.valid ? d.rune : kRuneError);
            i += d.length;
        }
        std::size_t n = s.size();
        // next[p]: tokens after the current one match s[p..n) entirely.
        next.assign(n + 1, 0);
        cur.assign(n + 1, 0);
        next[n] = 1;
        for (std::size_t t = tokens.size(); t-- > 0;) {
            const Token& tok = tokens[t];
            switch (tok.op) {
            case Op::literal:
            case Op::not_slash:
            case Op::cls:
                for (std::size_t p = 0; p <= n; ++p) {
                    bool one = false;
                    if (p < n) {
                        char32_t r = s[p];
                        one = tok.op == Op::literal ? r == tok.rune
                              : tok.op == Op::not_slash ? r != '/'
                                                        : class_has(tok, r);
                    }
                    cur[p] = one && next[p + 1];
                }
                break;
            case Op::star:
            case Op::any_run:
                cur[n] = next[n];
                for (std::size_t p = n; p-- > 0;) {
                    bool consumable = tok.op == Op::star ? s[p] != '/' : s[p] != '\n';
                    cur[p] = next[p] || (consumable && cur[p + 1]);
                }
                break;
            case Op::dirs: {
                // (.*/)? : nothing, or any run without '\n' that ends in '/'.
                bool run = false;  // some q >= p with s[p..q) free of '\n', s[q]=='/', next[q+1]
                cur[n] = next[n];
                for (std::size_t p = n; p-- > 0;) {
                    bool here = s[p] == '/' && next[p + 1];
                    run = here || (s[p] != '\n' && run);
                    cur[p] = next[p] || run;
                }
                break;
            }
            }
            std::swap(cur, next);
        }
        return next[0] != 0;
    }
};

Pattern::Pattern(std::string text, bool exclusion) : text_(std::move(text)), exclusion_(exclusion) {
    std::vector<char32_t> p = runes_of(text_);
    validate_syntax(text_, p);

    using Op = Program::Op;
    auto program = std::make_shared<Program>();
    auto& toks = program->tokens;
    std::string re = "^";
    MatchType type = MatchType::exact;
    std::size_t n = p.size();
    for (std::size_t i = 0, iter = 0; i < n; ++iter) {
        char32_t ch = p[i++];
        if (ch == '*') {
            if (i < n && p[i] == '*') {
                ++i;
                if (i < n && p[i] == '/') ++i;  // "**/" is "**"
                if (i >= n) {
                    if (type == MatchType::exact) {
                        type = MatchType::prefix;
                    } else {
                        re += ".*";
                        type = MatchType::regexp;
                        toks.push_back({Op::any_run});
                    }
                } else {
                    re += "(.*/)?";
                    type = MatchType::regexp;
                    toks.push_back({Op::dirs});
                }
                if (iter == 0) type = MatchType::suffix;
            } else {
                re += "[^/]*";
                type = MatchType::regexp;
                toks.push_back({Op::star});
            }
        } else if (ch == '?') {
            re += "[^/]";
            type = MatchType::regexp;
            toks.push_back({Op::not_slash});
        } else if (should_escape(ch)) {
            re += '\\';
            append_rune(re, ch);
            toks.push_back({Op::literal, ch});
        } else if (ch == '\\') {
            // Validation guarantees a character follows.
            re += '\\';
            append_rune(re, p[i]);
            toks.push_back({Op::literal, p[i]});
            ++i;
            type = MatchType::regexp;
        } else if (ch == '[') {
            type = MatchType::regexp;
            Program::Token cls{Op::cls};
            re += '[';
            if (p[i] == '^') {
                cls.negated = true;
                re += '^';
                ++i;
            }
            auto item = [&]() {
                if (p[i] == '\\') {
                    re += '\\';
                    ++i;
                } else if (should_escape(p[i])) {
                    re += '\\';
                }
                append_rune(re, p[i]);
                return p[i++];
            };
            for (bool any = false; !(p[i] == ']' && any); any = true) {
                char32_t lo = item();
                char32_t hi = lo;
                if (p[i] == '-') {
                    re += '-';
                    ++i;
                    hi = item();
                }
                // Go's regexp refuses a reversed range when the pattern is first used.
                if (hi < lo) {
                    throw kiln::Error("invalid character class range in pattern \"" + text_ +
                                      "\"");
                }
                cls.ranges.emplace_back(lo, hi);
            }
            ++i;  // ']'
            re += ']';
            toks.push_back(std::move(cls));
        } else {
            append_rune(re, ch);
            if (ch == ']') type = MatchType::regexp;
            toks.push_back({Op::literal, ch});
        }
    }
    type_ = type;
    if (type == MatchType::regexp) regexp_ = re + "$";
    program_ = std::move(program);
}

bool Pattern::match(std::string_view path) const {
    switch (type_) {
    case MatchType::exact:
        return path == text_;
    case MatchType::prefix:
        return starts_with(path, std::string_view(text_).substr(0, text_.size() - 2));
    case MatchType::suffix: {
        std::string_view suffix = std::string_view(text_).substr(2);
        if (ends_with(path, suffix)) return true;
        return suffix[0] == '/' && path == suffix.substr(1);  // "**/foo" matches "foo"
    }
    case MatchType::regexp:
        return program_->match(path);
    }
    return false;
}

PatternMatcher::PatternMatcher(const std::vector<std::string>& patterns) {
    patterns_.reserve(patterns.size());
    for (const auto& raw : patterns) {
        std::string_view t = trim(raw);
        if (t.empty()) continue;
        std::string p = clean_path(t);
        bool exclusion = false;
        if (p[0] == '!') {
            if (p.size() == 1) {
                throw kiln::Error(
                    "illegal exclusion pattern: \"!\" (a '!' line needs a pattern after it)");
            }
            exclusion = true;
            exclusions_ = true;
            p.erase(0, 1);
        }
        patterns_.emplace_back(std::move(p), exclusion);
    }
}

bool PatternMatcher::matches(std::string_view path) const {
    bool matched = false;
    for (const Pattern& pattern : patterns_) {
        // An ordinary pattern can only exclude what is still included, an exception can
        // only re-include what is excluded: so the last applicable pattern wins.
        if (pattern.exclusion() != matched) continue;
        if (pattern.match(path) || ancestor_matches(pattern, path)) matched = !pattern.exclusion();
    }
    return matched;
}

bool PatternMatcher::matches_exact(std::string_view path) const {
    bool matched = false;
    for (const Pattern& pattern : patterns_) {
        if (pattern.exclusion() != matched) continue;
        if (pattern.match(path)) matched = !pattern.exclusion();
    }
    return matched;
}

bool PatternMatcher::matches_using_parent(std::string_view path, const MatchInfo& parent,
                                          MatchInfo& info) const {
    const auto& parent_matched = parent.parent_matched;
    if (!parent_matched.empty() && parent_matched.size() != patterns_.size()) {
        throw kiln::Error("internal error: match info from a different pattern list");
    }
    bool matched = false;
    info.parent_matched.assign(patterns_.size(), false);
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
        const Pattern& pattern = patterns_[i];
        // A pattern that matched the parent directory matches everything inside it.
        bool m = !parent_matched.empty() && parent_matched[i];
        if (!m) {
            if (pattern.exclusion() != matched) continue;
            m = pattern.match(path);
            if (!m && parent_matched.empty()) m = ancestor_matches(pattern, path);
        }
        info.parent_matched[i] = m;
        if (m) matched = !pattern.exclusion();
    }
    return matched;
}

// --- context filtering and walking ----------------------------------------------------------

const char* to_string(EntryType type) {
    switch (type) {
    case EntryType::file: return "file";
    case EntryType::dir: return "dir";
    case EntryType::symlink: return "symlink";
    case EntryType::other: return "other";
    }
    return "?";
}

ContextFilter::ContextFilter(const std::vector<std::string>& includes,
                             const std::vector<std::string>& excludes)
    : ContextFilter(includes, PatternMatcher(excludes)) {}

ContextFilter::ContextFilter(const std::vector<std::string>& includes, PatternMatcher excludes)
    : has_includes_(!includes.empty()), excludes_(std::move(excludes)) {
    try {
        includes_ = PatternMatcher(includes);
    } catch (const kiln::Error& e) {
        throw kiln::Error(std::string("invalid include pattern: ") + e.what());
    }
    classify();
}

// When no pattern that could re-select something inside a skipped directory has wildcard
// characters, a plain prefix test decides whether the directory must be read at all.
void ContextFilter::classify() {
    for (const Pattern& p : includes_.patterns()) {
        if (!p.exclusion() && has_pattern_chars(without_trailing_glob(p.text()))) {
            only_prefix_includes_ = false;
        }
    }
    for (const Pattern& p : excludes_.patterns()) {
        if (p.exclusion() && has_pattern_chars(without_trailing_glob(p.text()))) {
            only_prefix_exclude_exceptions_ = false;
        }
    }
}

bool ContextFilter::visible(std::string_view path) const {
    if (has_includes_ && !includes_.matches(path)) return false;
    return !(!excludes_.empty() && excludes_.matches(path));
}

namespace {

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

EntryType type_of(mode_t mode) {
    if (S_ISREG(mode)) return EntryType::file;
    if (S_ISDIR(mode)) return EntryType::dir;
    if (S_ISLNK(mode)) return EntryType::symlink;
    return EntryType::other;
}

// Some pattern of `m` (ordinary ones when `exceptions` is false) names something inside
// the directory `dir`, judged by plain prefix.
bool may_select_inside(const PatternMatcher& m, bool exceptions, const std::string& dir) {
    std::string dir_slash = dir + "/";
    for (const Pattern& p : m.patterns()) {
        if (p.exclusion() != exceptions) continue;
        if (starts_with(without_trailing_glob(p.text()) + "/", dir_slash)) return true;
    }
    return false;
}

// The target of the symlink `name` in `dirfd`, read through the directory fd so that it is
// the link we just lstat'ed, whatever the path resolves to now.
std::string read_link(int dirfd, const std::string& name, const std::string& path) {
    std::string buf(256, '\0');
    for (;;) {
        ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
        if (n < 0) throw_errno("build context: readlink " + path);
        if (static_cast<std::size_t>(n) < buf.size()) {
            buf.resize(static_cast<std::size_t>(n));
            return buf;
        }
        buf.resize(buf.size() * 2);
    }
}

class Walker {
public:
    Walker(const ContextFilter& filter, bool has_includes,
           const std::function<void(const WalkEntry&)>& visit)
        : filter_(filter), has_includes_(has_includes), visit_(visit) {}

    void walk_dir(int dirfd, const std::string& prefix, int depth) {
        if (depth > kMaxContextDepth) {
            throw kiln::Error("build context: directories nested more than " +
                              std::to_string(kMaxContextDepth) + " deep at " + prefix);
        }
        std::vector<std::string> names = list(dirfd, prefix);
        for (const std::string& name : names) {
            std::string path = prefix.empty() ? name : prefix + "/" + name;
            Frame frame;
            frame.entry.path = path;
            if (::fstatat(dirfd, name.c_str(), &frame.entry.st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) continue;  // vanished while walking
                throw_errno("build context: lstat " + path);
            }
            frame.entry.type = type_of(frame.entry.st.st_mode);
            if (frame.entry.type == EntryType::symlink) {
                frame.entry.link_target = read_link(dirfd, name, path);
            }
            bool is_dir = frame.entry.type == EntryType::dir;
            const Frame* parent = stack_.empty() ? nullptr : &stack_.back();
            bool skip = false;

            if (has_includes_) {
                static const MatchInfo none;
                bool m = filter_.includes().matches_using_parent(
                    path, parent ? parent->include_info : none, frame.include_info);
                if (!m) {
                    if (is_dir && filter_.only_prefix_includes() &&
                        !may_select_inside(filter_.includes(), false, path)) {
                        continue;
                    }
                    skip = true;
                }
            }
            if (!filter_.excludes().empty()) {
                static const MatchInfo none;
                bool m = filter_.excludes().matches_using_parent(
                    path, parent ? parent->exclude_info : none, frame.exclude_info);
                if (m) {
                    if (is_dir && filter_.only_prefix_exclude_exceptions() &&
                        !may_select_inside(filter_.excludes(), true, path)) {
                        continue;  // excluded and nothing inside can come back: not read
                    }
                    skip = true;
                }
            }

            if (!skip) {
                // Ancestors that were not selected themselves appear just before their
                // first selected descendant.
                for (Frame& f : stack_) {
                    if (!f.emitted) {
                        f.emitted = true;
                        visit_(f.entry);
                    }
                }
                frame.emitted = true;
                visit_(frame.entry);
            }
            if (!is_dir) continue;

            UniqueFd child(::openat(dirfd, name.c_str(),
                                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!child) {
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;
                if (skip && errno == EACCES) continue;
                throw_errno("build context: open " + path);
            }
            stack_.push_back(std::move(frame));
            try {
                walk_dir(child.get(), path, depth + 1);
            } catch (...) {
                stack_.pop_back();
                throw;
            }
            stack_.pop_back();
        }
    }

private:
    struct Frame {
        WalkEntry entry{};
        MatchInfo include_info, exclude_info;
        bool emitted = false;
    };

    // Names in the directory, sorted bytewise (std::string compares as unsigned bytes).
    std::vector<std::string> list(int dirfd, const std::string& prefix) {
        int fd = ::dup(dirfd);
        if (fd < 0) throw_errno("build context: dup");
        std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
        if (!dir) {
            int err = errno;
            ::close(fd);
            throw_errno("build context: read " + (prefix.empty() ? "." : prefix), err);
        }
        std::vector<std::string> names;
        errno = 0;
        while (struct dirent* de = ::readdir(dir.get())) {
            std::string_view n = de->d_name;
            if (n != "." && n != "..") names.emplace_back(n);
            errno = 0;
        }
        if (errno != 0) throw_errno("build context: read " + (prefix.empty() ? "." : prefix));
        std::sort(names.begin(), names.end());
        return names;
    }

    const ContextFilter& filter_;
    bool has_includes_;
    const std::function<void(const WalkEntry&)>& visit_;
    std::vector<Frame> stack_;
};

}  // namespace

void walk_context(const std::string& root, const ContextFilter& filter,
                  const std::function<void(const WalkEntry&)>& visit) {
    UniqueFd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) throw_errno("build context: open " + root);
    // An include list given but empty after trimming selects nothing, as in fsutil.
    bool has_includes = filter.has_includes();
    Walker walker(filter, has_includes, visit);
    walker.walk_dir(rootfd.get(), "", 0);
}

void walk_context(const std::string& root, const PatternMatcher& excludes,
                  const std::vector<std::string>& includes,
                  const std::function<void(const WalkEntry&)>& visit) {
    walk_context(root, ContextFilter(includes, excludes), visit);
}

}  // namespace kiln::parser
