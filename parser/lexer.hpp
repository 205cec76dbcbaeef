#pragma once
// Lexical pieces of the raw parse stage, built on the PEGTL rules of grammar.hpp.
// Internal to kiln_parser; exposed in a header so parse.cpp and the tests share them.
#include <string>
#include <string_view>
#include <vector>

namespace kiln::parser::lexer {

struct InstructionHead {
    std::string_view keyword;  // as written
    std::string_view rest;     // after the keyword and its following blanks
};
// Splits trimmed instruction text at the first run of [ \t\v\f\r].
InstructionHead split_head(std::string_view text);

struct FlagSplit {
    std::vector<std::string> flags;  // "--name=value", quotes and escapes removed
    std::string_view rest;           // what follows the flags, not yet trimmed
};
FlagSplit split_flags(std::string_view rest, char escape);

enum class JsonStatus { not_json, strings, not_strings };
struct JsonArray {
    JsonStatus status = JsonStatus::not_json;
    std::vector<std::string> elements;
};
// `rest` (left-trimmed here) as a JSON array. As BuildKit's whole-value json.Unmarshal
// (dockerfile 1.9 on), text after the closing bracket makes it not_json, even when an
// element is not a string (`["a", 1] x` is shell form).
JsonArray parse_json_array(std::string_view rest);

// ENV/LABEL/ARG word splitting (quotes and escapes kept raw).
std::vector<std::string> split_words(std::string_view rest, char escape);
// The same words as views into `rest`, for callers that cut them up further.
std::vector<std::string_view> split_word_views(std::string_view rest, char escape);

// Split on runs of [ \t\v\f\r] (Go's regexp Split, so leading/trailing blanks give "").
std::vector<std::string> split_blanks(std::string_view rest, int max_parts = -1);

}  // namespace kiln::parser::lexer
