#pragma once
// PEGTL grammars for the raw Dockerfile parse stage. Internal to kiln_parser.
//
// The rules mirror the lexical behaviour of BuildKit's parser (see
// shared/conformance/buildkit-parser/README.md): physical lines, parser directives,
// instruction keyword and flags, JSON arrays, ENV/LABEL/ARG words and heredoc words.
// Rules that depend on the escape character are templates over it, because the
// `# escape=` directive switches between '\\' and '`' at run time.
#include <cstring>
#include <string_view>
#include <tao/pegtl.hpp>

namespace kiln::parser::grammar {

namespace pegtl = tao::pegtl;
using pegtl::any;
using pegtl::at;
using pegtl::eof;
using pegtl::not_at;
using pegtl::not_one;
using pegtl::one;
using pegtl::opt;
using pegtl::plus;
using pegtl::seq;
using pegtl::sor;
using pegtl::star;

// Inputs are in-memory views; positions come from our own line table, so PEGTL does not
// need to count lines as it goes (lazy tracking keeps byte runs cheap).
using Input = pegtl::memory_input<pegtl::tracking_mode::lazy, pegtl::eol::lf_crlf, const char*>;

inline Input input_of(std::string_view text, const char* source) {
    return Input(text.data(), text.size(), source);
}

// Go's unicode.IsSpace over one UTF-8 encoded rune.
struct unicode_space
    : sor<one<'\t', '\n', '\v', '\f', '\r', ' '>,
          pegtl::utf8::one<0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000>,
          pegtl::utf8::range<0x2000, 0x200A>> {};

// One rune, or one byte when the input is not valid UTF-8 there.
struct rune_or_byte : sor<pegtl::utf8::any, any> {};

// One or more bytes for which Stop::stops(byte) is false, consumed in one loop instead of
// one rule match per byte (a fast path for the common, plain parts of a line).
template <typename Stop>
struct byte_run {
    using rule_t = byte_run;
    using subs_t = pegtl::type_list<>;
    template <typename ParseInput>
    static bool match(ParseInput& in) {
        const std::size_t available = in.size(std::size_t(-1));
        const char* data = in.current();
        std::size_t length = 0;
        while (length < available && !Stop::stops(static_cast<unsigned char>(data[length]))) ++length;
        if (length == 0) return false;
        in.bump(length);
        return true;
    }
};

template <char... Stops>
struct ascii_stop {
    static bool stops(unsigned char c) {
        return c >= 0x80 || ((c == static_cast<unsigned char>(Stops)) || ...);
    }
};
// A run of ASCII bytes none of which is in Stops (never a non-ASCII byte). A fast path
// for the common case of plain ASCII words, so the UTF-8 aware rules see only the rest.
template <char... Stops>
struct ascii_run : byte_run<ascii_stop<Stops...>> {};

// Zero or more bytes of any value up to (not including) the first byte in Stops, or to
// the end of the input when Stops is empty. Consumes runs in one step.
template <char... Stops>
struct bytes_until {
    using rule_t = bytes_until;
    using subs_t = pegtl::type_list<>;
    template <typename ParseInput>
    static bool match(ParseInput& in) {
        const std::size_t available = in.size(std::size_t(-1));
        const char* data = in.current();
        std::size_t length = 0;
        if constexpr (sizeof...(Stops) == 0) {
            length = available;
        } else if constexpr (sizeof...(Stops) == 1) {
            // One stop byte (line bodies): memchr scans a word or vector at a time, which
            // matters because every byte of the file goes through here once.
            constexpr char only[] = {Stops...};
            const void* stop =
                available ? std::memchr(data, static_cast<unsigned char>(only[0]), available) : nullptr;
            length = stop ? static_cast<std::size_t>(static_cast<const char*>(stop) - data) : available;
        } else {
            while (length < available && !((data[length] == Stops) || ...)) ++length;
        }
        in.bump(length);
        return true;
    }
};

// ---------------------------------------------------------------------------------------
// Physical lines: every line ends at '\n' or at the end of the input.
namespace lines {
struct body : bytes_until<'\n'> {};
struct line : seq<body, opt<one<'\n'>>> {};
struct file : pegtl::until<eof, line> {};
}  // namespace lines

// ---------------------------------------------------------------------------------------
// Parser directive: `#`, optional blanks, name, `=`, value (regexp
// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, where \s is [\t\n\f\r ]).
namespace directive {
struct go_space : one<'\t', '\n', '\f', '\r', ' '> {};
struct name : seq<pegtl::alpha, star<pegtl::alnum>> {};
struct value : plus<any> {};  // trimmed by the action; may be all blanks (see action)
struct line : seq<one<'#'>, star<go_space>, name, star<go_space>, one<'='>, value, eof> {};
}  // namespace directive

// ---------------------------------------------------------------------------------------
// Instruction head: keyword, then the rest after a run of [ \t\v\f\r].
namespace head {
struct token_space : one<' ', '\t', '\v', '\f', '\r'> {};
struct keyword : bytes_until<' ', '\t', '\v', '\f', '\r'> {};
struct rest : bytes_until<> {};
struct line : seq<keyword, opt<plus<token_space>, rest>, eof> {};
}  // namespace head

// ---------------------------------------------------------------------------------------
// Builder flags at the start of the rest (`--from=x --chmod="7 55"` …). Quotes are removed
// and the escape character makes the next byte literal inside a flag word.
namespace flags {
struct blank : one<' ', '\t', '\n', '\v', '\f', '\r'> {};
template <char Esc>
struct escaped : seq<one<Esc>, any> {};
template <char Esc>
struct dangling_escape : seq<one<Esc>, eof> {};
template <char Esc, char Quote>
struct quoted_char : not_one<Quote> {};
template <char Esc, char Quote>
struct quoted
    : seq<one<Quote>,
          star<sor<dangling_escape<Esc>, escaped<Esc>, quoted_char<Esc, Quote>>>,
          opt<one<Quote>>> {};
struct plain : seq<not_at<blank>, any> {};
template <char Esc>
struct plain_run : ascii_run<' ', '\t', '\n', '\v', '\f', '\r', '"', '\'', Esc> {};
template <char Esc>
struct part : sor<plain_run<Esc>, quoted<Esc, '"'>, quoted<Esc, '\''>, dangling_escape<Esc>, escaped<Esc>,
                  plain> {};
// `--` alone ends the flags and is dropped.
struct terminator : seq<pegtl::two<'-'>, at<sor<blank, eof>>> {};
template <char Esc>
struct word : seq<not_at<terminator>, at<pegtl::two<'-'>>, plus<part<Esc>>> {};
template <char Esc>
struct prefix : seq<star<blank>, star<word<Esc>, star<blank>>, opt<terminator>> {};
}  // namespace flags

// ---------------------------------------------------------------------------------------
// JSON array of strings (exec form). Nested values are recognised so that a non-string
// element is an error rather than a fallback to shell form.
namespace json {
struct ws_char : one<' ', '\t', '\n', '\r'> {};
struct ws : star<ws_char> {};
struct unicode_escape : seq<one<'u'>, pegtl::rep<4, pegtl::xdigit>> {};
struct escape : seq<one<'\\'>, sor<one<'"', '\\', '/', 'b', 'f', 'n', 'r', 't'>, unicode_escape>> {};
// One or more bytes that are neither '"', '\\' nor a control byte 0x00-0x1f (bytes from
// 0x80 up pass, as they did through pegtl::range on a signed char). Written as one loop
// because string bodies are most of an exec-form instruction.
struct plain_stop {
    static bool stops(unsigned char c) { return c == '"' || c == '\\' || c < 0x20; }
};
struct plain : byte_run<plain_stop> {};
struct string_body : star<sor<escape, plain>> {};
struct string : seq<one<'"'>, string_body, one<'"'>> {};
struct digits : plus<pegtl::digit> {};
struct number
    : seq<opt<one<'-'>>, sor<one<'0'>, seq<pegtl::range<'1', '9'>, star<pegtl::digit>>>,
          opt<one<'.'>, digits>, opt<one<'e', 'E'>, opt<one<'+', '-'>>, digits>> {};
struct literal : sor<pegtl::string<'t', 'r', 'u', 'e'>, pegtl::string<'f', 'a', 'l', 's', 'e'>,
                     pegtl::string<'n', 'u', 'l', 'l'>> {};
struct value;
struct array : seq<one<'['>, ws, opt<pegtl::list<value, one<','>, ws_char>>, ws, one<']'>> {};
struct member : seq<ws, string, ws, one<':'>, ws, value, ws> {};
struct object : seq<one<'{'>, ws, opt<pegtl::list<member, one<','>>>, ws, one<'}'>> {};
struct value : sor<string, number, literal, array, object> {};
// Top level: only the elements of the outer array carry actions.
struct element_string : string {};
struct element_other : sor<number, literal, array, object> {};
struct element : sor<element_string, element_other> {};
struct top : seq<one<'['>, ws, opt<pegtl::list<element, one<','>, ws_char>>, ws, one<']'>> {};
// The whole rest must be that one array (json.Unmarshal, BuildKit since dockerfile 1.9):
// only JSON whitespace may follow the closing bracket.
struct whole : seq<top, ws, eof> {};
}  // namespace json

// ---------------------------------------------------------------------------------------
// ENV / LABEL / ARG words: separated by Unicode whitespace outside quotes; quotes stay
// in the word; the escape character is kept together with the next rune (except inside
// single quotes, where it is literal); an escape at the very end is dropped.
namespace words {
template <char Esc>
struct dangling_escape : seq<one<Esc>, eof> {};
template <char Esc>
struct escaped : seq<one<Esc>, rune_or_byte> {};
template <char Esc>
struct double_quoted
    : seq<one<'"'>, star<sor<dangling_escape<Esc>, escaped<Esc>, seq<not_at<one<'"'>>, rune_or_byte>>>,
          opt<one<'"'>>> {};
struct single_quoted : seq<one<'\''>, star<seq<not_at<one<'\''>>, rune_or_byte>>, opt<one<'\''>>> {};
struct plain : seq<not_at<unicode_space>, rune_or_byte> {};
template <char Esc>
struct plain_ascii : ascii_run<' ', '\t', '\n', '\v', '\f', '\r', '"', '\'', Esc> {};
template <char Esc>
struct word : plus<sor<plain_ascii<Esc>, dangling_escape<Esc>, escaped<Esc>, double_quoted<Esc>,
                       single_quoted, plain>> {};
template <char Esc>
struct list : seq<star<unicode_space>, star<word<Esc>, star<unicode_space>>, eof> {};
}  // namespace words

// ---------------------------------------------------------------------------------------
// Heredoc words. First the instruction text is split into shell words with quotes and
// escapes kept raw, where `<<` swallows the blanks after it (`RUN <<  EOF` is one word).
// Then each word is matched against `^(\d*)<<(-?)\s*([^<]*)$`.
namespace heredoc {
struct blank : one<' ', '\t', '\n', '\r', '\v', '\f'> {};
struct escaped : seq<one<'\\'>, any> {};
struct dangling_escape : seq<one<'\\'>, eof> {};
struct double_quoted : seq<one<'"'>, star<sor<escaped, not_one<'"', '\\'>>>, one<'"'>> {};
struct single_quoted : seq<one<'\''>, star<not_one<'\''>>, one<'\''>> {};
struct redirect : seq<pegtl::two<'<'>, opt<one<'-'>>, star<blank>> {};
struct plain : seq<not_at<sor<blank, one<'"', '\''>>>, any> {};
// Bytes no other alternative could start with, consumed as one run before trying them.
struct plain_run : ascii_run<' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '\\', '<'> {};
struct raw_word
    : plus<sor<plain_run, redirect, escaped, dangling_escape, double_quoted, single_quoted, plain>> {};
struct line : seq<star<blank>, star<raw_word, star<blank>>, eof> {};

struct fd : star<pegtl::digit> {};
struct chomp : one<'-'> {};
struct go_space : one<'\t', '\n', '\f', '\r', ' '> {};
struct name : star<not_one<'<'>> {};
struct word : seq<fd, pegtl::two<'<'>, opt<chomp>, star<go_space>, name, eof> {};
}  // namespace heredoc

}  // namespace kiln::parser::grammar
