// Heredoc detection: which words of a RUN/COPY/ADD line open a heredoc, and with what
// delimiter, file descriptor and flags. Bodies are read by parse.cpp.
#include <algorithm>
#include <charconv>
#include <optional>

#include "parser/grammar.hpp"
#include "parser/parse.hpp"

namespace kiln::parser {
namespace pegtl = tao::pegtl;
namespace g = grammar;

namespace {

struct RawWords {
    std::vector<std::string_view> words;  // views into the instruction line
};
template <typename Rule>
struct line_action : pegtl::nothing<Rule> {};
template <>
struct line_action<g::heredoc::raw_word> {
    template <typename Input>
    static void apply(const Input& in, RawWords& state) { state.words.push_back(in.string_view()); }
};

struct WordParts {
    std::string_view fd;
    bool chomp = false;
    std::string_view name;
};
template <typename Rule>
struct word_action : pegtl::nothing<Rule> {};
template <>
struct word_action<g::heredoc::fd> {
    template <typename Input>
    static void apply(const Input& in, WordParts& parts) { parts.fd = in.string_view(); }
};
template <>
struct word_action<g::heredoc::chomp> {
    template <typename Input>
    static void apply(const Input&, WordParts& parts) { parts.chomp = true; }
};
template <>
struct word_action<g::heredoc::name> {
    template <typename Input>
    static void apply(const Input& in, WordParts& parts) { parts.name = in.string_view(); }
};

bool is_shell_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Splits a heredoc delimiter into shell words, removing escapes and (unless keep_quotes)
// quotes; `$` is literal because unset variables are left alone. nullopt when a quote is
// not closed.
std::optional<std::vector<std::string>> delimiter_words(std::string_view text, bool keep_quotes) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char c = text[pos];
        if (is_shell_blank(c)) {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            ++pos;
            continue;
        }
        in_word = true;
        if (c == '\\') {
            if (pos + 1 < text.size()) word += text[pos + 1];
            pos += 2;
            continue;
        }
        if (c == '\'' || c == '"') {
            const std::size_t close = c == '\'' ? text.find('\'', pos + 1) : [&] {
                std::size_t at = pos + 1;
                while (at < text.size() && text[at] != '"') at += text[at] == '\\' ? 2 : 1;
                return at < text.size() ? at : std::string_view::npos;
            }();
            if (close == std::string_view::npos) return std::nullopt;
            if (keep_quotes) word += c;
            for (std::size_t at = pos + 1; at < close; ++at) {
                const bool escape_in_double = c == '"' && text[at] == '\\' && at + 1 < close &&
                                              (text[at + 1] == '"' || text[at + 1] == '\\' ||
                                               text[at + 1] == '$');
                if (escape_in_double) ++at;
                word += text[at];
            }
            if (keep_quotes) word += c;
            pos = close + 1;
            continue;
        }
        word += c;
        ++pos;
    }
    if (in_word) words.push_back(std::move(word));
    return words;
}

std::size_t count_quotes(std::string_view text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\'') +
                                    std::count(text.begin(), text.end(), '"'));
}

}  // namespace

std::optional<Heredoc> parse_heredoc_word(std::string_view word) {
    WordParts parts;
    auto in = g::input_of(word, "heredoc");
    if (!pegtl::parse<g::heredoc::word, word_action>(in, parts) || parts.name.empty()) {
        return std::nullopt;
    }
    const auto unquoted = delimiter_words(parts.name, false);
    if (!unquoted) throw kiln::Error("unbalanced quotes in heredoc delimiter " + go_quote(word));
    if (unquoted->size() != 1) return std::nullopt;  // `<<EOF sh` is not one word
    const auto raw = delimiter_words(parts.name, true);
    if (!raw || raw->size() != 1) {
        throw kiln::Error("inconsistent lexing of heredoc delimiter " + go_quote(word));
    }
    Heredoc heredoc;
    heredoc.name = unquoted->front();
    // Any quote that did real quoting disappears from the unquoted form; escaped quotes
    // survive in both, so equal counts mean "nothing was quoted".
    heredoc.expand = count_quotes(unquoted->front()) == count_quotes(raw->front());
    heredoc.chomp = parts.chomp;
    if (!parts.fd.empty()) {
        // Go's ParseUint failure leaves 0; so does an out-of-range value here.
        int fd = 0;
        const auto [end, error] = std::from_chars(parts.fd.data(), parts.fd.data() + parts.fd.size(), fd);
        heredoc.fd = error == std::errc{} && end == parts.fd.data() + parts.fd.size() ? fd : 0;
    }
    return heredoc;
}

std::string heredoc_body(const Heredoc& heredoc) {
    if (!heredoc.chomp) return heredoc.content;
    std::string body;
    body.reserve(heredoc.content.size());
    bool line_start = true;
    for (const char c : heredoc.content) {
        if (line_start && c == '\t') continue;
        line_start = c == '\n';
        body += c;
    }
    return body;
}

std::vector<Heredoc> heredocs_in_line(std::string_view line) {
    RawWords raw;
    auto in = g::input_of(line, "heredoc line");
    if (!pegtl::parse<g::heredoc::line, line_action>(in, raw)) return {};
    std::vector<Heredoc> heredocs;
    for (const std::string_view word : raw.words) {
        // Only a word with `<<` can match g::heredoc::word; skip the full match otherwise.
        if (word.find("<<") == std::string_view::npos) continue;
        if (auto heredoc = parse_heredoc_word(word)) heredocs.push_back(std::move(*heredoc));
    }
    return heredocs;
}

}  // namespace kiln::parser
