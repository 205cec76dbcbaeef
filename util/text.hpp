#pragma once
// Small text helpers for flag values.
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// text cut at every sep, empty fields kept: "a::b" → {"a", "", "b"}; "" → {""}.
inline std::vector<std::string> split_fields(std::string_view text, char sep) {
    std::vector<std::string> fields;
    for (std::size_t start = 0;;) {
        auto at = text.find(sep, start);
        fields.emplace_back(text.substr(start, at - start));
        if (at == std::string_view::npos) return fields;
        start = at + 1;
    }
}

}  // namespace kiln
