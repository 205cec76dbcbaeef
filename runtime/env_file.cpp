#include "runtime/env_file.hpp"

#include <cstdlib>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Well-formed UTF-8 (no overlong forms, surrogates or values above U+10FFFF), as Go's
// utf8.Valid, which the docker CLI checks each line with.
bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || c > 0xf4 || i + len > s.size()) return false;
        unsigned value = c & (0x7f >> len);
        for (std::size_t k = 1; k < len; ++k) {
            auto next = static_cast<unsigned char>(s[i + k]);
            if ((next & 0xc0) != 0x80) return false;
            value = (value << 6) | (next & 0x3f);
        }
        if ((len == 3 && value < 0x800) || (len == 4 && (value < 0x10000 || value > 0x10ffff)) ||
            (value >= 0xd800 && value <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

}  // namespace

std::vector<std::string> parse_env_file(const std::string& text, const std::string& name, const EnvLookup& lookup) {
    std::vector<std::string> entries;
    std::string_view rest = text;
    for (int number = 1; !rest.empty(); ++number) {
        auto newline = rest.find('\n');
        std::string_view line = rest.substr(0, newline);
        rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
        auto where = [&] { return name + ":" + std::to_string(number) + ": "; };
        if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
        if (!valid_utf8(line)) throw Error(where() + "invalid utf8 bytes in the env file");
        while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        auto eq = line.find('=');
        std::string key(line.substr(0, eq));
        if (key.empty()) throw Error(where() + "no variable name on line '" + std::string(line) + "'");
        for (char c : key)
            if (is_space(c)) throw Error(where() + "variable '" + key + "' contains whitespaces");
        if (eq != std::string_view::npos) {
            entries.push_back(std::string(line));
        } else if (auto value = lookup(key)) {
            entries.push_back(key + "=" + *value);
        }
    }
    return entries;
}

std::vector<std::string> read_env_file(const std::string& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        throw Error(std::string("open env file: ") + e.what());
    }
    return parse_env_file(text, path, [](const std::string& key) -> std::optional<std::string> {
        const char* value = std::getenv(key.c_str());
        if (!value) return std::nullopt;
        return std::string(value);
    });
}

}  // namespace kiln::runtime
