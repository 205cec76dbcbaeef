#pragma once
// The docker CLI's `--format` templates: Go's text/template over JSON values, with the
// functions the docker CLI adds. Written once here and shared by every command that
// formats (`images`, `ps`, `inspect`, `history`, ...).
//
// Supported: text and {{actions}} with {{- and -}} trimming; {{/* comments */}};
// pipelines with `|`; fields (.A.B, ., $, $x.A); string ("…", `…`), number, bool and nil
// literals; parenthesised pipelines; variables ($x := …, $x = …); if / else if / else,
// range (with $i, $e := …, and else), with / else, end. Functions: and, or, not, len,
// index, slice, eq, ne, lt, le, gt, ge, print, printf, println, json, join, split, upper,
// lower, title, truncate, pad. Values print as Go's fmt %v prints them (maps as
// map[k:v …] with sorted keys, lists as [a b], a missing key as <no value>).
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kiln {

using TemplateValue = nlohmann::ordered_json;

class GoTemplate {
public:
    // Throws kiln::Error ("template parsing error: …") for a malformed template.
    explicit GoTemplate(std::string_view text);
    ~GoTemplate();
    GoTemplate(GoTemplate&&) noexcept;
    GoTemplate& operator=(GoTemplate&&) noexcept;

    // Throws kiln::Error ("template: executing …") when a function fails (a wrong
    // argument count or type, index out of range).
    std::string execute(const TemplateValue& data) const;

    struct Node;

private:
    std::unique_ptr<Node> root_;
};

// Go's json.Marshal of a value: compact, with <, > and & escaped as \u003c, \u003e, \u0026.
std::string go_json(const TemplateValue& value);

// Go's fmt %v of a value.
std::string go_print(const TemplateValue& value);

// The docker CLI's `table` output: cells separated by '\t' are padded into columns
// (text/tabwriter with minwidth 10, padding 3, as the CLI sets it up). Lines end in '\n'.
// pad_char '\t' pads with tabs as Go's does (cells rounded up to tab stops of 8), as buildx
// prints its tables.
std::string tabwrite(std::string_view text, std::size_t min_width = 10, std::size_t padding = 3,
                     char pad_char = ' ');

}  // namespace kiln
