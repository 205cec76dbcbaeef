#include "parser/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace kiln::parser {

DecodedRune decode_utf8(std::string_view text, std::size_t pos) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char first = byte(pos);
    if (first < 0x80) return {first, 1, true};
    std::size_t length = 0;
    char32_t rune = 0;
    char32_t minimum = 0;
    if ((first & 0xE0) == 0xC0) {
        length = 2, rune = first & 0x1F, minimum = 0x80;
    } else if ((first & 0xF0) == 0xE0) {
        length = 3, rune = first & 0x0F, minimum = 0x800;
    } else if ((first & 0xF8) == 0xF0) {
        length = 4, rune = first & 0x07, minimum = 0x10000;
    } else {
        return {};
    }
    if (pos + length > text.size()) return {};
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned char next = byte(pos + i);
        if ((next & 0xC0) != 0x80) return {};
        rune = (rune << 6) | (next & 0x3F);
    }
    if (rune < minimum || rune > 0x10FFFF || (rune >= 0xD800 && rune <= 0xDFFF)) return {};
    return {rune, length, true};
}

bool is_unicode_space(char32_t rune) {
    switch (rune) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return true;
    default:
        return rune >= 0x2000 && rune <= 0x200A;
    }
}

std::size_t unicode_space_length(std::string_view text, std::size_t pos) {
    const DecodedRune decoded = decode_utf8(text, pos);
    return decoded.valid && is_unicode_space(decoded.rune) ? decoded.length : 0;
}

std::string_view trim_left_unicode(std::string_view text) {
    std::size_t pos = 0;
    // ASCII head (the usual case): no decoding needed. Called on every physical line.
    while (pos < text.size() && static_cast<unsigned char>(text[pos]) < 0x80) {
        if (!is_unicode_space(static_cast<unsigned char>(text[pos]))) return text.substr(pos);
        ++pos;
    }
    while (pos < text.size()) {
        const std::size_t length = unicode_space_length(text, pos);
        if (length == 0) break;
        pos += length;
    }
    return text.substr(pos);
}

std::string_view trim_right_unicode(std::string_view text) {
    // ASCII tail (the usual case): trim from the end directly.
    while (!text.empty() && static_cast<unsigned char>(text.back()) < 0x80) {
        if (!is_unicode_space(static_cast<unsigned char>(text.back()))) return text;
        text.remove_suffix(1);
    }
    if (text.empty()) return text;
    // Otherwise walk forward remembering where the last non-space rune ended: UTF-8
    // cannot be decoded backwards without care.
    std::size_t end = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const DecodedRune decoded = decode_utf8(text, pos);
        pos += decoded.valid ? decoded.length : 1;
        if (!(decoded.valid && is_unicode_space(decoded.rune))) end = pos;
    }
    return text.substr(0, end);
}

std::string_view trim_unicode(std::string_view text) {
    return trim_right_unicode(trim_left_unicode(text));
}

void append_utf8(std::string& out, char32_t rune) {
    if (rune < 0x80) {
        out += static_cast<char>(rune);
    } else if (rune < 0x800) {
        out += static_cast<char>(0xC0 | (rune >> 6));
        out += static_cast<char>(0x80 | (rune & 0x3F));
    } else if (rune < 0x10000) {
        out += static_cast<char>(0xE0 | (rune >> 12));
        out += static_cast<char>(0x80 | ((rune >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (rune & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (rune >> 18));
        out += static_cast<char>(0x80 | ((rune >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((rune >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (rune & 0x3F));
    }
}

std::string ascii_lower(std::string_view text) {
    // Plain ASCII arithmetic: std::tolower goes through the C locale per byte, and kiln
    // never changes the locale from "C", where the two agree.
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string ascii_upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

}  // namespace kiln::parser
