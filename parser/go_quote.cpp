// Go's strconv.Quote, byte for byte, so that `kiln parse --dump` matches BuildKit's dump.
#include <clocale>
#include <cstdint>
#include <cwctype>
#include <locale.h>

#include "parser/parse.hpp"
#include "parser/utf8.hpp"

namespace kiln::parser {
namespace {

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII
// space. glibc's "graph" class of the C.UTF-8 locale is the closest table we have; the
// format characters it counts as graphic are removed by hand.
bool is_format_or_private(char32_t rune) {
    return rune == 0xAD || (rune >= 0x600 && rune <= 0x605) || rune == 0x61C || rune == 0x6DD ||
           rune == 0x70F || rune == 0x180E || (rune >= 0x200B && rune <= 0x200F) ||
           (rune >= 0x2028 && rune <= 0x202E) || (rune >= 0x2060 && rune <= 0x206F) ||
           rune == 0xFEFF || (rune >= 0xFFF9 && rune <= 0xFFFB) ||
           (rune >= 0xE000 && rune <= 0xF8FF) || rune >= 0xF0000 ||
           (rune >= 0xE0000 && rune <= 0xE0FFF);
}

class GraphicTable {
public:
    GraphicTable() : locale_(newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{})) {}
    ~GraphicTable() {
        if (locale_ != locale_t{}) freelocale(locale_);
    }
    GraphicTable(const GraphicTable&) = delete;
    GraphicTable& operator=(const GraphicTable&) = delete;

    bool is_print(char32_t rune) const {
        if (rune < 0x80) return rune >= 0x20 && rune < 0x7F;
        if (rune < 0xA1) return false;  // C1 controls and U+00A0 (a non-ASCII space)
        if (is_format_or_private(rune)) return false;
        if (locale_ == locale_t{}) return true;  // no table: assume printable
        return iswgraph_l(static_cast<wint_t>(rune), locale_) != 0;
    }

private:
    locale_t locale_;
};

const GraphicTable& graphic_table() {
    static const GraphicTable table;
    return table;
}

constexpr char kHex[] = "0123456789abcdef";

void append_hex(std::string& out, std::uint32_t value, int digits) {
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kHex[(value >> shift) & 0xF];
}

}  // namespace

std::string go_quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    std::size_t pos = 0;
    while (pos < text.size()) {
        const DecodedRune decoded = decode_utf8(text, pos);
        if (!decoded.valid) {
            out += "\\x";
            append_hex(out, static_cast<unsigned char>(text[pos]), 2);
            pos += 1;
            continue;
        }
        const char32_t rune = decoded.rune;
        const std::string_view bytes = text.substr(pos, decoded.length);
        pos += decoded.length;
        if (rune == '"' || rune == '\\') {
            out += '\\';
            out += static_cast<char>(rune);
            continue;
        }
        if (graphic_table().is_print(rune)) {
            out += bytes;
            continue;
        }
        switch (rune) {
        case '\a': out += "\\a"; continue;
        case '\b': out += "\\b"; continue;
        case '\f': out += "\\f"; continue;
        case '\n': out += "\\n"; continue;
        case '\r': out += "\\r"; continue;
        case '\t': out += "\\t"; continue;
        case '\v': out += "\\v"; continue;
        default: break;
        }
        if (rune < 0x20 || rune == 0x7F) {
            out += "\\x";
            append_hex(out, rune, 2);
        } else if (rune < 0x10000) {
            out += "\\u";
            append_hex(out, rune, 4);
        } else {
            out += "\\U";
            append_hex(out, rune, 8);
        }
    }
    out += '"';
    return out;
}

}  // namespace kiln::parser
