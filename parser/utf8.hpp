#pragma once
// Small UTF-8 and whitespace helpers shared by the parser sources. Internal.
#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::parser {

struct DecodedRune {
    char32_t rune = 0;
    std::size_t length = 1;
    bool valid = false;
};

// Decodes the rune at `pos` (pos < text.size()); invalid or overlong sequences and
// surrogates are reported as one invalid byte, as Go's utf8.DecodeRuneInString does.
DecodedRune decode_utf8(std::string_view text, std::size_t pos);

// Go's unicode.IsSpace.
bool is_unicode_space(char32_t rune);

// Bytes of Unicode whitespace at `pos` (0 if none).
std::size_t unicode_space_length(std::string_view text, std::size_t pos);

// strings.TrimLeftFunc / TrimRightFunc / TrimSpace with unicode.IsSpace.
std::string_view trim_left_unicode(std::string_view text);
std::string_view trim_right_unicode(std::string_view text);
std::string_view trim_unicode(std::string_view text);

void append_utf8(std::string& out, char32_t rune);

// ASCII case mapping (Dockerfile keywords, flag and option names are ASCII).
std::string ascii_lower(std::string_view text);
std::string ascii_upper(std::string_view text);

}  // namespace kiln::parser
