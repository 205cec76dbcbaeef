#include "parser/lexer.hpp"

#include <algorithm>
#include <cstdint>

#include "parser/grammar.hpp"
#include "parser/utf8.hpp"

namespace kiln::parser::lexer {
namespace pegtl = tao::pegtl;
namespace g = grammar;

namespace {

// ---------------------------------------------------------------------------------------
// Instruction head
struct HeadState {
    std::string_view keyword;
    std::string_view rest;
};
template <typename Rule>
struct head_action : pegtl::nothing<Rule> {};
template <>
struct head_action<g::head::keyword> {
    template <typename Input>
    static void apply(const Input& in, HeadState& state) { state.keyword = in.string_view(); }
};
template <>
struct head_action<g::head::rest> {
    template <typename Input>
    static void apply(const Input& in, HeadState& state) { state.rest = in.string_view(); }
};

// ---------------------------------------------------------------------------------------
// Flags
struct FlagState {
    std::string current;
    std::vector<std::string> flags;
    std::string_view rest;
};
struct flags_rest : g::bytes_until<> {};
template <char Esc>
struct flags_then_rest : pegtl::seq<g::flags::prefix<Esc>, flags_rest> {};

template <typename Rule>
struct flag_action : pegtl::nothing<Rule> {};
template <>
struct flag_action<g::flags::plain> {
    template <typename Input>
    static void apply(const Input& in, FlagState& state) { state.current += in.string_view(); }
};
template <char Esc>
struct flag_action<g::flags::plain_run<Esc>> {
    template <typename Input>
    static void apply(const Input& in, FlagState& state) { state.current += in.string_view(); }
};
template <char Esc>
struct flag_action<g::flags::escaped<Esc>> {
    template <typename Input>
    static void apply(const Input& in, FlagState& state) { state.current += in.string_view().substr(1); }
};
template <char Esc, char Quote>
struct flag_action<g::flags::quoted_char<Esc, Quote>> {
    template <typename Input>
    static void apply(const Input& in, FlagState& state) { state.current += in.string_view(); }
};
template <char Esc>
struct flag_action<g::flags::word<Esc>> {
    template <typename Input>
    static void apply(const Input&, FlagState& state) {
        state.flags.push_back(std::move(state.current));
        state.current.clear();
    }
};
template <>
struct flag_action<flags_rest> {
    template <typename Input>
    static void apply(const Input& in, FlagState& state) { state.rest = in.string_view(); }
};

template <char Esc>
FlagSplit split_flags_with(std::string_view rest) {
    FlagState state;
    auto in = g::input_of(rest, "flags");
    pegtl::parse<flags_then_rest<Esc>, flag_action>(in, state);
    return {std::move(state.flags), state.rest};
}

// ---------------------------------------------------------------------------------------
// JSON
struct JsonState {
    std::vector<std::string> strings;
    bool saw_other = false;
};

unsigned hex_value(char c) {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    return static_cast<unsigned>(c - 'A' + 10);
}

// Decodes the body of a JSON string the grammar has already validated.
std::string decode_json_string(std::string_view body) {
    std::string out;
    out.reserve(body.size());  // decoding never makes the text longer
    std::size_t pos = 0;
    const auto read_u16 = [&](std::size_t at) {
        unsigned value = 0;
        for (std::size_t i = 0; i < 4; ++i) value = value * 16 + hex_value(body[at + i]);
        return value;
    };
    while (pos < body.size()) {
        // Copy the unescaped run up to the next backslash in one append.
        const std::size_t escape = std::min(body.find('\\', pos), body.size());
        out.append(body, pos, escape - pos);
        pos = escape;
        if (pos == body.size()) break;
        const char kind = body[pos + 1];
        pos += 2;
        switch (kind) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
            char32_t rune = read_u16(pos);
            pos += 4;
            if (rune >= 0xD800 && rune < 0xDC00) {
                // A high surrogate pairs with a following \uDC00-\uDFFF; alone it is U+FFFD.
                if (pos + 6 <= body.size() && body[pos] == '\\' && body[pos + 1] == 'u') {
                    const unsigned low = read_u16(pos + 2);
                    if (low >= 0xDC00 && low <= 0xDFFF) {
                        rune = 0x10000 + ((rune - 0xD800) << 10) + (low - 0xDC00);
                        pos += 6;
                    } else {
                        rune = 0xFFFD;
                    }
                } else {
                    rune = 0xFFFD;
                }
            } else if (rune >= 0xDC00 && rune <= 0xDFFF) {
                rune = 0xFFFD;
            }
            append_utf8(out, rune);
            break;
        }
        default: out += kind; break;  // " \ /
        }
    }
    return out;
}

template <typename Rule>
struct json_action : pegtl::nothing<Rule> {};
template <>
struct json_action<g::json::element_string> {
    template <typename Input>
    static void apply(const Input& in, JsonState& state) {
        const std::string_view quoted = in.string_view();
        state.strings.push_back(decode_json_string(quoted.substr(1, quoted.size() - 2)));
    }
};
template <>
struct json_action<g::json::element_other> {
    template <typename Input>
    static void apply(const Input&, JsonState& state) { state.saw_other = true; }
};

// The JSON grammar recurses per nesting level; refuse absurd nesting up front so a
// hostile `[[[[…` cannot exhaust the stack (Go's decoder stops at 10000 as well).
bool nesting_within_limit(std::string_view text) {
    constexpr int kMaxDepth = 256;
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) return false;
        } else if (c == ']' || c == '}') {
            if (--depth == 0) return true;  // the outer array ended; the rest is ignored
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// Words
struct WordState {
    std::vector<std::string_view> words;  // views into the text being split
    bool dangling = false;
};
template <typename Rule>
struct word_action : pegtl::nothing<Rule> {};
template <char Esc>
struct word_action<g::words::dangling_escape<Esc>> {
    template <typename Input>
    static void apply(const Input&, WordState& state) { state.dangling = true; }
};
template <char Esc>
struct word_action<g::words::word<Esc>> {
    template <typename Input>
    static void apply(const Input& in, WordState& state) {
        std::string_view word = in.string_view();
        if (state.dangling) word.remove_suffix(1);  // an escape at the very end is dropped
        state.dangling = false;
        state.words.push_back(std::move(word));
    }
};

template <char Esc>
std::vector<std::string_view> split_word_views_with(std::string_view rest) {
    WordState state;
    auto in = g::input_of(rest, "words");
    pegtl::parse<g::words::list<Esc>, word_action>(in, state);
    return std::move(state.words);
}

bool is_token_blank(char c) {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

InstructionHead split_head(std::string_view text) {
    HeadState state;
    auto in = g::input_of(text, "instruction");
    pegtl::parse<g::head::line, head_action>(in, state);
    return {state.keyword, state.rest};
}

FlagSplit split_flags(std::string_view rest, char escape) {
    return escape == '`' ? split_flags_with<'`'>(rest) : split_flags_with<'\\'>(rest);
}

JsonArray parse_json_array(std::string_view rest) {
    rest = trim_left_unicode(rest);
    if (rest.empty() || rest.front() != '[' || !nesting_within_limit(rest)) return {};
    JsonState state;
    auto in = g::input_of(rest, "json");
    if (!pegtl::parse<g::json::whole, json_action>(in, state)) return {};
    if (state.saw_other) return {JsonStatus::not_strings, {}};
    return {JsonStatus::strings, std::move(state.strings)};
}

std::vector<std::string_view> split_word_views(std::string_view rest, char escape) {
    return escape == '`' ? split_word_views_with<'`'>(rest) : split_word_views_with<'\\'>(rest);
}

std::vector<std::string> split_words(std::string_view rest, char escape) {
    const std::vector<std::string_view> views = split_word_views(rest, escape);
    return {views.begin(), views.end()};
}

std::vector<std::string> split_blanks(std::string_view rest, int max_parts) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    std::size_t pos = 0;
    while (pos < rest.size()) {
        if (max_parts > 0 && static_cast<int>(parts.size()) == max_parts - 1) break;
        if (!is_token_blank(rest[pos])) {
            ++pos;
            continue;
        }
        parts.emplace_back(rest.substr(start, pos - start));
        while (pos < rest.size() && is_token_blank(rest[pos])) ++pos;
        start = pos;
    }
    parts.emplace_back(rest.substr(start));
    return parts;
}

}  // namespace kiln::parser::lexer
