// Shell-word expansion with the semantics of BuildKit's frontend/dockerfile/shell lexer.
//
// The input is read as a stream of Unicode characters the way Go's text/scanner reads it:
// an invalid UTF-8 byte becomes U+FFFD in the output. That is what BuildKit produces, so
// paths and cache keys come out the same.
#include "parser/expand.hpp"

#include <locale.h>
#include <wctype.h>

#include <cstdint>

#include "parser/parse.hpp"  // go_quote
#include "parser/utf8.hpp"
#include "util/error.hpp"

namespace kiln::parser {

namespace {

constexpr int32_t kEof = -1;
constexpr int32_t kRuneError = 0xFFFD;

struct Decoded {
    int32_t rune;
    std::size_t width;
};

// Go's utf8.DecodeRune: an invalid sequence is U+FFFD with width 1.
Decoded decode_at(std::string_view s, std::size_t i) {
    DecodedRune d = decode_utf8(s, i);
    return {d.valid ? static_cast<int32_t>(d.rune) : kRuneError, d.length};
}

void put_rune(std::string& out, int32_t r) {
    append_utf8(out, r < 0 ? static_cast<char32_t>(kRuneError) : static_cast<char32_t>(r));
}

std::string rune_string(int32_t r) {
    std::string s;
    put_rune(s, r);
    return s;
}

std::vector<int32_t> to_runes(std::string_view s, std::vector<std::size_t>* offsets = nullptr) {
    std::vector<int32_t> out;
    out.reserve(s.size());
    if (offsets) offsets->clear();
    for (std::size_t i = 0; i < s.size();) {
        Decoded d = decode_at(s, i);
        if (offsets) offsets->push_back(i);
        out.push_back(d.rune);
        i += d.width;
    }
    if (offsets) offsets->push_back(s.size());
    return out;
}

bool is_space(int32_t r) { return r >= 0 && is_unicode_space(static_cast<char32_t>(r)); }

// Non-ASCII letters are classified by glibc's C.UTF-8 tables: close to Go's
// unicode.IsLetter (it also counts letter-like numbers such as U+2160 as letters).
locale_t utf8_locale() {
    static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return loc;
}

bool is_ascii_digit(int32_t r) { return r >= '0' && r <= '9'; }

bool is_letter(int32_t r) {
    if (r < 0x80) return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
    if (r == kRuneError) return false;
    locale_t loc = utf8_locale();
    if (!loc) return !is_space(r);
    return iswalpha_l(static_cast<wint_t>(r), loc) != 0;
}

bool is_name_char(int32_t r) { return r == '_' || is_ascii_digit(r) || is_letter(r); }

bool is_special_param(int32_t r) {
    switch (r) {
    case '@': case '*': case '#': case '?': case '-': case '$': case '!': case '0':
        return true;
    default:
        return false;
    }
}

// A failure while expanding; the caller wraps it with the input text.
struct ExpandFailure {
    std::string message;
};

// Separate from ExpandFailure so that "missing '}'" rewriting never hides it.
struct NestingFailure {};

// --- shell patterns (${V#p} ${V%p} ${V/p/r}) -------------------------------------------
//
// BuildKit turns the pattern into a Go regexp (`*` → `.*` or `.*?`, `?` → `.`) and takes
// the leftmost-first match. The pattern has no alternation: it is fixed segments separated
// by stars. A backward pass over the subject records, for each star, where its run may end
// so that the rest of the pattern still matches; the preferred match (longest runs first
// when greedy, shortest when not) is then read off without backtracking, in
// O(subject × pattern) time.

struct PatToken {
    bool any = false;  // `?`: one character other than '\n'
    int32_t rune = 0;
};

// Refuse rather than allocate without bound for hostile (stars × subject) sizes.
constexpr std::size_t kMaxPatternStates = 8u << 20;

class ShellPattern {
public:
    // Throws ExpandFailure for an invalid escape.
    explicit ShellPattern(const std::vector<int32_t>& pattern) {
        segments_.emplace_back();
        for (std::size_t i = 0; i < pattern.size(); ++i) {
            int32_t tok = pattern[i];
            if (tok == '*') {
                segments_.emplace_back();
                continue;
            }
            if (tok == '?') {
                segments_.back().push_back({true, 0});
                continue;
            }
            if (tok == '\\') {
                int32_t next = i + 1 < pattern.size() ? pattern[i + 1] : kEof;
                // "\}" and "\/" only protect the delimiter of ${...}; the backslash is not
                // part of the pattern.
                if (next == '}' || next == '/') continue;
                if (next != '*' && next != '?' && next != '\\') {
                    if (next == kEof) throw ExpandFailure{"invalid escape '\\' at end of pattern"};
                    throw ExpandFailure{"invalid escape '\\" + rune_string(next) + "'"};
                }
                ++i;
                tok = next;
            }
            segments_.back().push_back({false, tok});
        }
    }

    // Prepares matching against `s` (which must stay alive while matching).
    void prepare(const std::vector<int32_t>& s, bool greedy) {
        subject_ = &s;
        greedy_ = greedy;
        std::size_t n = s.size();
        std::size_t stars = segments_.size() - 1;
        if (stars * (n + 1) > kMaxPatternStates) {
            throw ExpandFailure{"pattern has too many '*' for a value this long"};
        }
        // line_end[p]: a star's run starting at p can extend at most to here.
        line_end_.assign(n + 1, n);
        for (std::size_t p = n; p-- > 0;) line_end_[p] = s[p] == '\n' ? p : line_end_[p + 1];
        // pick_[i][q]: greedy: the last good end of star i's run at or before q; otherwise
        // the first at or after q. A good end c is one where segment i matches and the rest
        // of the pattern can follow.
        pick_.assign(stars + 1, {});
        for (std::size_t i = stars; i >= 1; --i) {
            std::vector<int32_t>& pick = pick_[i];
            pick.assign(n + 1, -1);
            auto good = [&](std::size_t c) {
                if (!segment_matches(i, c)) return false;
                return i == stars || reachable(i + 1, c + segments_[i].size());
            };
            if (greedy) {
                int32_t last = -1;
                for (std::size_t c = 0; c <= n; ++c) {
                    if (good(c)) last = static_cast<int32_t>(c);
                    pick[c] = last;
                }
            } else {
                int32_t first = -1;
                for (std::size_t c = n + 1; c-- > 0;) {
                    if (good(c)) first = static_cast<int32_t>(c);
                    pick[c] = first;
                }
            }
        }
    }

    // Match starting exactly at rune index `start`; returns the end index.
    std::optional<std::size_t> match_at(std::size_t start) const {
        if (!segment_matches(0, start)) return std::nullopt;
        std::size_t pos = start + segments_[0].size();
        std::size_t stars = segments_.size() - 1;
        if (stars == 0) return pos;
        if (!reachable(1, pos)) return std::nullopt;
        for (std::size_t i = 1; i <= stars; ++i) {
            std::size_t c = static_cast<std::size_t>(run_end(i, pos));
            pos = c + segments_[i].size();
        }
        return pos;
    }

    // Leftmost match at or after `from`: (start, end).
    std::optional<std::pair<std::size_t, std::size_t>> find(std::size_t from) const {
        for (std::size_t start = from; start <= subject_->size(); ++start) {
            if (auto end = match_at(start)) return std::make_pair(start, *end);
        }
        return std::nullopt;
    }

private:
    bool segment_matches(std::size_t seg, std::size_t at) const {
        const auto& toks = segments_[seg];
        const auto& s = *subject_;
        if (at + toks.size() > s.size()) return false;
        for (std::size_t k = 0; k < toks.size(); ++k) {
            int32_t r = s[at + k];
            if (toks[k].any ? r == '\n' : r != toks[k].rune) return false;
        }
        return true;
    }
    // The preferred good end for star i's run starting at p, or -1.
    int32_t run_end(std::size_t i, std::size_t p) const {
        const std::vector<int32_t>& pick = pick_[i];
        int32_t c = greedy_ ? pick[line_end_[p]] : pick[p];
        if (c < 0 || static_cast<std::size_t>(c) < p || static_cast<std::size_t>(c) > line_end_[p]) {
            return -1;
        }
        return c;
    }
    bool reachable(std::size_t i, std::size_t p) const {
        return p <= subject_->size() && run_end(i, p) >= 0;
    }

    std::vector<std::vector<PatToken>> segments_;
    const std::vector<int32_t>* subject_ = nullptr;
    bool greedy_ = true;
    std::vector<std::size_t> line_end_;
    std::vector<std::vector<int32_t>> pick_;
};

ShellPattern compile_pattern(std::string_view pattern) {
    try {
        return ShellPattern(to_runes(pattern));
    } catch (const ExpandFailure& f) {
        throw ExpandFailure{"invalid pattern (" + std::string(pattern) + ") in substitution: " +
                            f.message};
    }
}

std::string encode_runes(const std::vector<int32_t>& runes, std::size_t begin, std::size_t end) {
    std::string out;
    for (std::size_t i = begin; i < end; ++i) put_rune(out, runes[i]);
    return out;
}

// ${V#p} / ${V##p}: remove the shortest / longest matching prefix.
std::string trim_prefix(std::string_view pattern, std::string_view value, bool greedy) {
    ShellPattern re = compile_pattern(pattern);
    std::vector<std::size_t> offs;
    std::vector<int32_t> runes = to_runes(value, &offs);
    re.prepare(runes, greedy);
    if (auto end = re.match_at(0)) return std::string(value.substr(offs[*end]));
    return std::string(value);
}

// BuildKit reverses the pattern (keeping "\x" pairs in order) and the value, then trims a
// prefix; the value goes through Go's []rune round trip, which we reproduce.
std::string trim_suffix(std::string_view pattern, std::string_view value, bool greedy) {
    std::vector<int32_t> pat = to_runes(pattern);
    std::vector<int32_t> reversed(pat.size());
    std::size_t last = pat.empty() ? 0 : pat.size() - 1;
    for (std::size_t i = 0; i < pat.size();) {
        std::size_t out = last - i;
        if (pat[i] == '\\' && i != last) {
            reversed[out - 1] = pat[i];
            reversed[out] = pat[i + 1];
            i += 2;
        } else {
            reversed[out] = pat[i];
            ++i;
        }
    }
    std::string reversed_pattern = encode_runes(reversed, 0, reversed.size());
    ShellPattern re = compile_pattern(reversed_pattern);
    std::vector<int32_t> runes = to_runes(value);
    std::vector<int32_t> rev(runes.rbegin(), runes.rend());
    std::size_t cut = 0;
    re.prepare(rev, greedy);
    if (auto end = re.match_at(0)) cut = *end;
    return encode_runes(runes, 0, runes.size() - cut);
}

// Go's Regexp.ReplaceAllString template: "$$" is '$', "$0"/"${0}" the whole match, any other
// well-formed "$name" / "${name}" refers to a group that does not exist and is empty.
void append_template(std::string& out, std::string_view tmpl, std::string_view match) {
    std::size_t i = 0;
    while (i < tmpl.size()) {
        std::size_t d = tmpl.find('$', i);
        if (d == std::string_view::npos) break;
        out.append(tmpl.substr(i, d - i));
        i = d + 1;
        if (i < tmpl.size() && tmpl[i] == '$') {
            out += '$';
            ++i;
            continue;
        }
        bool brace = i < tmpl.size() && tmpl[i] == '{';
        std::size_t j = brace ? i + 1 : i;
        std::size_t name_start = j;
        while (j < tmpl.size()) {
            Decoded dc = decode_at(tmpl, j);
            if (!(dc.rune == '_' || is_ascii_digit(dc.rune) || is_letter(dc.rune))) break;
            j += dc.width;
        }
        std::string_view name = tmpl.substr(name_start, j - name_start);
        if (name.empty() || (brace && (j >= tmpl.size() || tmpl[j] != '}'))) {
            out += '$';  // malformed: the '$' is literal text
            continue;
        }
        if (brace) ++j;
        if (name == "0") out.append(match);
        i = j;
    }
    if (i < tmpl.size()) out.append(tmpl.substr(i));
}

std::string replace(std::string_view pattern, std::string_view value,
                    std::string_view replacement, bool all) {
    ShellPattern re = compile_pattern(pattern);
    std::vector<std::size_t> offs;
    std::vector<int32_t> runes = to_runes(value, &offs);
    re.prepare(runes, true);
    if (!all) {
        auto m = re.find(0);
        if (!m) return std::string(value);
        std::string out(value.substr(0, offs[m->first]));
        out.append(replacement);
        out.append(value.substr(offs[m->second]));
        return out;
    }
    // Go's ReplaceAllString loop: no replacement for an empty match right after a match,
    // always advance at least one character.
    std::string out;
    std::size_t last_end = 0;
    std::size_t search = 0;
    while (search <= runes.size()) {
        auto m = re.find(search);
        if (!m) break;
        auto [a0, a1] = *m;
        out.append(value.substr(offs[last_end], offs[a0] - offs[last_end]));
        if (a1 > last_end || a0 == 0) {
            append_template(out, replacement, value.substr(offs[a0], offs[a1] - offs[a0]));
        }
        last_end = a1;
        search = std::max(search + 1, a1);
    }
    out.append(value.substr(offs[last_end]));
    return out;
}

// --- the lexer --------------------------------------------------------------------------

// Builds the word-split result alongside the single-word one.
struct WordSplitter {
    std::string word;
    std::vector<std::string> words;
    bool in_word = false;

    void add_char(int32_t ch) {
        if (is_space(ch)) {
            if (in_word && !word.empty()) {
                words.push_back(std::move(word));
                word.clear();
                in_word = false;
            }
        } else {
            add_raw_char(ch);
        }
    }
    void add_raw_char(int32_t ch) {
        put_rune(word, ch);
        in_word = true;
    }
    // Text from an unquoted expansion: its whitespace separates words.
    void add_string(std::string_view s) {
        for (std::size_t i = 0; i < s.size();) {
            Decoded d = decode_at(s, i);
            add_char(d.rune);
            i += d.width;
        }
    }
    void add_raw_string(std::string_view s) {
        word.append(s);
        in_word = true;
    }
    std::vector<std::string> finish() {
        if (!word.empty()) words.push_back(std::move(word));
        word.clear();
        in_word = false;
        return std::move(words);
    }
};

class Lexer {
public:
    Lexer(std::string_view input, const EnvLookup& env, int32_t escape,
          const ExpandOptions& options, ExpandResult& result)
        : in_(input), env_(env), escape_(escape), opt_(options), result_(result),
          raw_escapes_(options.raw_escapes) {}

    void run() {
        std::vector<std::string> words;
        result_.word = stop_on(kEof, opt_.raw_escapes, &words, 0);
        result_.words = std::move(words);
    }

private:
    int32_t peek() const { return pos_ >= in_.size() ? kEof : decode_at(in_, pos_).rune; }
    int32_t next() {
        if (pos_ >= in_.size()) return kEof;
        Decoded d = decode_at(in_, pos_);
        pos_ += d.width;
        return d.rune;
    }

    // Reads up to `stop` (consumed) or the end of input when stop is kEof.
    std::string stop_on(int32_t stop, bool raw_escapes, std::vector<std::string>* words,
                        int depth) {
        struct RawEscapesGuard {
            bool& ref;
            bool saved;
            ~RawEscapesGuard() { ref = saved; }
        } guard{raw_escapes_, raw_escapes_};
        raw_escapes_ = raw_escapes;

        std::string result;
        WordSplitter split;
        while (peek() != kEof) {
            int32_t ch = peek();
            if (stop != kEof && ch == stop) {
                next();
                if (words) *words = split.finish();
                return result;
            }
            if (ch == '$') {
                std::string tmp = dollar(depth);
                result += tmp;
                split.add_string(tmp);
            } else if (!opt_.skip_process_quotes && (ch == '\'' || ch == '"')) {
                std::string tmp = ch == '\'' ? single_quote() : double_quote(depth);
                result += tmp;
                split.add_raw_string(tmp);
            } else {
                ch = next();
                if (ch == escape_) {
                    if (raw_escapes_) {
                        split.add_raw_char(ch);
                        put_rune(result, ch);
                    }
                    ch = next();
                    if (ch == kEof) break;  // a trailing escape is dropped
                    split.add_raw_char(ch);
                } else {
                    split.add_char(ch);
                }
                put_rune(result, ch);
            }
        }
        if (stop != kEof) {
            throw ExpandFailure{"unexpected end of statement while looking for matching " +
                                rune_string(stop)};
        }
        if (words) *words = split.finish();
        return result;
    }

    // '...': everything literal; there is no way to escape a single quote.
    std::string single_quote() {
        std::string result;
        int32_t ch = next();
        if (opt_.raw_quotes) put_rune(result, ch);
        for (;;) {
            ch = next();
            if (ch == kEof) {
                throw ExpandFailure{
                    "unexpected end of statement while looking for matching single-quote"};
            }
            if (ch == '\'') {
                if (opt_.raw_quotes) put_rune(result, ch);
                return result;
            }
            put_rune(result, ch);
        }
    }

    // "...": $ expands; the escape character escapes only ", $ and itself.
    std::string double_quote(int depth) {
        std::string result;
        int32_t ch = next();
        if (opt_.raw_quotes) put_rune(result, ch);
        for (;;) {
            int32_t p = peek();
            if (p == kEof) {
                throw ExpandFailure{
                    "unexpected end of statement while looking for matching double-quote"};
            }
            if (p == '"') {
                ch = next();
                if (opt_.raw_quotes) put_rune(result, ch);
                return result;
            }
            if (p == '$') {
                result += dollar(depth);
                continue;
            }
            ch = next();
            if (ch == escape_) {
                if (raw_escapes_) put_rune(result, ch);
                int32_t after = peek();
                if (after == kEof) continue;  // the loop reports the missing quote
                if (after == '"' || after == '$' || after == escape_) ch = next();
            }
            put_rune(result, ch);
        }
    }

    std::string read_name() {
        std::string name;
        while (peek() != kEof) {
            int32_t ch = peek();
            if (name.empty() && is_ascii_digit(ch)) {
                // Positional parameters take every following digit ($999aaa → $999 + aaa).
                while (is_ascii_digit(peek())) put_rune(name, next());
                return name;
            }
            if (name.empty() && is_special_param(ch)) {
                next();
                return rune_string(ch);
            }
            if (!is_name_char(ch)) break;
            put_rune(name, next());
        }
        return name;
    }

    std::optional<std::string> get_env(const std::string& name) {
        std::optional<std::string> v = env_ ? env_(name) : std::nullopt;
        (v ? result_.matched : result_.unmatched).insert(name);
        return v;
    }

    // The operand word of ${name<op>word}; EOF inside it means the brace never closed.
    std::string operand(int32_t stop, bool raw_escapes, int depth, const char* missing) {
        try {
            return stop_on(stop, raw_escapes, nullptr, depth);
        } catch (const ExpandFailure&) {
            if (peek() == kEof) throw ExpandFailure{missing};
            throw;
        }
    }

    std::string dollar(int depth) {
        if (depth >= ShellExpander::kMaxNesting) throw NestingFailure{};
        next();  // '$'
        if (peek() != '{') {
            std::string name = read_name();
            if (name.empty()) return "$";
            auto v = get_env(name);
            if (!v && opt_.skip_unset_env) return "$" + name;
            return v.value_or("");
        }
        next();  // '{'
        switch (peek()) {
        case kEof:
            throw ExpandFailure{"syntax error: missing '}'"};
        case '{': case '}': case ':':
            throw ExpandFailure{"syntax error: bad substitution"};
        default:
            break;
        }
        std::string name = read_name();
        int32_t ch = next();
        if (ch == kEof) throw ExpandFailure{"syntax error: missing '}'"};
        std::string op = rune_string(ch);
        bool null_is_unset = false;

        if (ch == '}') {
            auto v = get_env(name);
            if (!v && opt_.skip_unset_env) return "${" + name + "}";
            return v.value_or("");
        }
        if (ch == '/') return substitute(name, depth);
        if (ch == ':') {
            null_is_unset = true;
            ch = next();
            if (ch != kEof) op += rune_string(ch);
        } else if (ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%') {
            throw ExpandFailure{"unsupported modifier (" + op + ") in substitution"};
        }

        // Patterns keep their escapes: the pattern compiler interprets them.
        bool raw = ch == '#' || ch == '%';
        std::string word = operand('}', raw, depth + 1, "syntax error: missing '}'");
        auto v = get_env(name);
        if (!v && opt_.skip_unset_env) return "${" + name + op + word + "}";
        bool empty = !v || (null_is_unset && v->empty());

        switch (ch) {
        case '-':
            return empty ? word : *v;
        case '+':
            return empty ? std::string() : word;
        case '?':
            if (!v) {
                throw ExpandFailure{name + ": " +
                                    (word.empty() ? "is not allowed to be unset" : word)};
            }
            if (null_is_unset && v->empty()) {
                throw ExpandFailure{name + ": " +
                                    (word.empty() ? "is not allowed to be empty" : word)};
            }
            return *v;
        case '#':
        case '%': {
            // ${V:#p} and ${V:%p} mean nothing in POSIX shells; BuildKit refuses them.
            if (null_is_unset) {
                throw ExpandFailure{"unsupported modifier (" + op + ") in substitution"};
            }
            bool greedy = !word.empty() && static_cast<unsigned char>(word[0]) == ch;
            if (greedy) word.erase(0, 1);
            std::string value = v.value_or("");
            return ch == '%' ? trim_suffix(word, value, greedy) : trim_prefix(word, value, greedy);
        }
        default:
            throw ExpandFailure{"unsupported modifier (" + op + ") in substitution"};
        }
    }

    // ${V/p/r} and ${V//p/r}; the '/' after the name has been read.
    std::string substitute(const std::string& name, int depth) {
        bool all = peek() == '/';
        if (all) next();
        std::string pattern = operand('/', true, depth + 1, "syntax error: missing '/' in ${}");
        std::string replacement = operand('}', true, depth + 1, "syntax error: missing '}'");
        auto v = get_env(name);
        if (!v && opt_.skip_unset_env) return "${" + name + "/" + pattern + "/" + replacement + "}";
        return replace(pattern, v.value_or(""), replacement, all);
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    const EnvLookup& env_;
    int32_t escape_;
    const ExpandOptions& opt_;
    ExpandResult& result_;
    bool raw_escapes_;
};

}  // namespace

EnvMap env_from_list(const std::vector<std::string>& entries) {
    EnvMap env;
    for (const auto& e : entries) {
        auto eq = e.find('=');
        if (eq == std::string::npos) {
            env[e] = "";
        } else {
            env[e.substr(0, eq)] = e.substr(eq + 1);
        }
    }
    return env;
}

EnvLookup lookup_in(const EnvMap& env) {
    return [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
}

ShellExpander::ShellExpander(char escape, ExpandOptions options)
    : escape_(escape), options_(options) {}

ExpandResult ShellExpander::process(std::string_view input, const EnvLookup& env) const {
    ExpandResult result;
    Lexer lexer(input, env, static_cast<unsigned char>(escape_), options_, result);
    try {
        lexer.run();
    } catch (const ExpandFailure& f) {
        throw kiln::Error("failed to process " + go_quote(input) + ": " + f.message);
    } catch (const NestingFailure&) {
        throw kiln::Error("failed to process " + go_quote(input) +
                          ": variable references nested more than " +
                          std::to_string(kMaxNesting) + " deep");
    }
    return result;
}

ExpandResult ShellExpander::process(std::string_view input, const EnvMap& env) const {
    return process(input, lookup_in(env));
}

std::string ShellExpander::expand_word(std::string_view input, const EnvLookup& env) const {
    return process(input, env).word;
}

std::string ShellExpander::expand_word(std::string_view input, const EnvMap& env) const {
    return process(input, lookup_in(env)).word;
}

std::vector<std::string> ShellExpander::expand_words(std::string_view input,
                                                     const EnvLookup& env) const {
    return process(input, env).words;
}

std::vector<std::string> ShellExpander::expand_words(std::string_view input,
                                                     const EnvMap& env) const {
    return process(input, lookup_in(env)).words;
}

}  // namespace kiln::parser
