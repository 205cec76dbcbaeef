#include "parser/instruction_flags.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "parser/parse.hpp"
#include "parser/utf8.hpp"

namespace kiln::parser::typed {

namespace {

std::optional<bool> parse_bool(std::string_view text) {
    const std::string value = ascii_lower(text);
    if (value == "true" || value == "1" || value == "t") return true;
    if (value == "false" || value == "0" || value == "f") return false;
    return std::nullopt;
}

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(),
                                        [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Comma-separated fields as Go's encoding/csv reads one record: a field starting with `"`
// is quoted and `""` inside it is one quote.
std::vector<std::string> csv_fields(std::string_view text) {
    std::vector<std::string> fields;
    std::size_t pos = 0;
    while (true) {
        std::string field;
        if (pos < text.size() && text[pos] == '"') {
            ++pos;
            while (pos < text.size()) {
                if (text[pos] == '"') {
                    if (pos + 1 < text.size() && text[pos + 1] == '"') {
                        field += '"';
                        pos += 2;
                        continue;
                    }
                    ++pos;
                    break;
                }
                field += text[pos++];
            }
            while (pos < text.size() && text[pos] != ',') field += text[pos++];
        } else {
            while (pos < text.size() && text[pos] != ',') field += text[pos++];
        }
        fields.push_back(std::move(field));
        if (pos >= text.size()) break;
        ++pos;  // the comma
    }
    return fields;
}

// The option name a --mount key is stored under ("" when unknown).
std::string canonical_mount_key(const std::string& key) {
    if (key == "dst" || key == "destination") return "target";
    if (key == "src") return "source";
    if (key == "ro") return "readonly";
    if (key == "rw") return "readwrite";
    static const char* const kKeys[] = {"type", "target", "source", "from", "id", "env", "sharing",
                                        "mode", "uid", "gid", "size", "required", "readonly",
                                        "readwrite"};
    for (const char* known : kKeys) {
        if (key == known) return key;
    }
    return "";
}

}  // namespace

Position Site::find(std::string_view needle) const {
    if (!needle.empty() && located.range.start.line > 0) {
        for (int line = located.range.start.line; line <= located.range.end.line; ++line) {
            const std::string& text = file.lines[static_cast<std::size_t>(line) - 1];
            const std::size_t at = text.find(needle);
            if (at != std::string::npos) return {line, static_cast<int>(at) + 1};
        }
    }
    return located.keyword_pos;
}

void Site::fail(Position pos, const std::string& message) const {
    std::string source;
    if (pos.line >= 1 && static_cast<std::size_t>(pos.line) <= file.lines.size()) {
        source = file.lines[static_cast<std::size_t>(pos.line) - 1];
    }
    throw ParseError(file.filename, pos, message, source);
}

FlagSet::FlagSet(const Site& site, const Instruction& instruction, std::string keyword_upper)
    : site_(site), instruction_(instruction), keyword_(std::move(keyword_upper)) {}

FlagSet& FlagSet::declare(const std::string& name, Kind kind) {
    values_[name].kind = kind;
    return *this;
}

void FlagSet::fail(const std::string& name, const std::string& message) const {
    site_.fail_at("--" + name, message);
}

void FlagSet::parse() {
    for (const std::string& flag : instruction_.flags) {
        if (!flag.starts_with("--")) site_.fail_at(flag, "invalid flag " + go_quote(flag));
        const std::string_view body = std::string_view(flag).substr(2);
        const std::size_t equals = body.find('=');
        const std::string name(body.substr(0, equals));
        const bool has_value = equals != std::string_view::npos;
        const std::string value = has_value ? std::string(body.substr(equals + 1)) : std::string();
        const auto found = values_.find(name);
        if (found == values_.end()) {
            std::string known;
            for (const auto& [known_name, ignored] : values_) {
                known += (known.empty() ? "" : ", ") + ("--" + known_name);
            }
            fail(name, "unknown flag --" + name + " for " + keyword_ +
                           (known.empty() ? " (it takes no flags)" : " (it takes " + known + ")"));
        }
        Value& slot = found->second;
        if (slot.given && slot.kind != Kind::repeated) {
            fail(name, "duplicate flag specified: --" + name);
        }
        slot.given = true;
        switch (slot.kind) {
        case Kind::boolean: {
            if (!has_value) {
                slot.text = "true";
                break;
            }
            const auto parsed = parse_bool(value);
            if (!parsed) {
                fail(name, "expecting boolean value for flag --" + name + ", not: " + go_quote(value));
            }
            slot.text = *parsed ? "true" : "false";
            break;
        }
        case Kind::string:
            if (!has_value) fail(name, "missing a value on flag: --" + name);
            slot.text = value;
            break;
        case Kind::repeated:
            if (!has_value) fail(name, "missing a value on flag: --" + name);
            slot.texts.push_back(value);
            break;
        }
    }
}

std::string FlagSet::string(const std::string& name) const {
    const auto found = values_.find(name);
    return found == values_.end() ? std::string() : found->second.text;
}

bool FlagSet::boolean(const std::string& name) const { return string(name) == "true"; }

const std::vector<std::string>& FlagSet::repeated(const std::string& name) const {
    static const std::vector<std::string> kNone;
    const auto found = values_.find(name);
    return found == values_.end() ? kNone : found->second.texts;
}

bool FlagSet::given(const std::string& name) const {
    const auto found = values_.find(name);
    return found != values_.end() && found->second.given;
}

RunMount parse_mount(const FlagSet& flags, std::string_view spec) {
    RunMount mount;
    auto& options = mount.options;
    const auto fail = [&](const std::string& message) { flags.fail("mount", message); };
    for (const std::string& field : csv_fields(spec)) {
        if (field.empty()) continue;
        const std::size_t equals = field.find('=');
        const std::string key = ascii_lower(std::string_view(field).substr(0, equals));
        const bool has_value = equals != std::string::npos;
        const std::string value = has_value ? field.substr(equals + 1) : std::string();
        if (has_value && value.find('$') != std::string::npos) {
            // BuildKit expands build args inside --mount before checking it; such values
            // are kept as written and checked by the builder after expansion.
            const std::string name = canonical_mount_key(key);
            if (name.empty()) fail("unexpected key '" + key + "' in '" + field + "'");
            options[name] = value;
            continue;
        }
        const auto need_value = [&] {
            if (!has_value) fail("invalid --mount field " + go_quote(field) + ": " + key + " needs a value");
        };
        if (key == "readonly" || key == "ro" || key == "rw" || key == "readwrite" || key == "required") {
            bool flag = true;
            if (has_value) {
                const auto parsed = parse_bool(value);
                if (!parsed) fail("invalid value for --mount " + key + ": " + go_quote(value));
                flag = *parsed;
            }
            if (key == "required") {
                options["required"] = flag ? "true" : "false";
            } else {
                const bool readonly = (key == "readonly" || key == "ro") ? flag : !flag;
                options["readonly"] = readonly ? "true" : "false";
            }
            continue;
        }
        need_value();
        if (key == "type") {
            const std::string type = ascii_lower(value);
            if (type != "bind" && type != "cache" && type != "tmpfs" && type != "secret" && type != "ssh") {
                fail("unsupported mount type " + go_quote(value) +
                     " (use bind, cache, tmpfs, secret or ssh)");
            }
            options["type"] = type;
        } else if (key == "target" || key == "dst" || key == "destination") {
            options["target"] = value;
        } else if (key == "source" || key == "src") {
            options["source"] = value;
        } else if (key == "from" || key == "id" || key == "env") {
            options[key] = value;
        } else if (key == "sharing") {
            const std::string sharing = ascii_lower(value);
            if (sharing != "shared" && sharing != "private" && sharing != "locked") {
                fail("unsupported sharing value " + go_quote(value) + " (use shared, private or locked)");
            }
            options["sharing"] = sharing;
        } else if (key == "mode") {
            if (value.empty() || value.find_first_not_of("01234567") != std::string::npos ||
                value.size() > 5) {
                fail("invalid --mount mode " + go_quote(value) + ": expected an octal number such as 0755");
            }
            options["mode"] = value;
        } else if (key == "uid" || key == "gid") {
            if (!all_digits(value)) fail("invalid --mount " + key + " " + go_quote(value) + ": expected a number");
            options[key] = value;
        } else if (key == "size") {
            const std::size_t digits = value.find_first_not_of("0123456789");
            const std::string unit = ascii_lower(digits == std::string::npos ? "" : value.substr(digits));
            static const char* const kUnits[] = {"", "b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"};
            const bool unit_ok = std::find(std::begin(kUnits), std::end(kUnits), unit) != std::end(kUnits);
            if (digits == 0 || !unit_ok) fail("invalid --mount size " + go_quote(value));
            options["size"] = value;
        } else {
            fail("unexpected key '" + key + "' in '" + field + "'");
        }
    }
    if (!options.contains("type")) options["type"] = "bind";
    const std::string& type = options["type"];
    if (type.find('$') != std::string::npos) return mount;  // checked after expansion
    if ((type == "bind" || type == "cache" || type == "tmpfs") && !options.contains("target")) {
        fail("--mount type=" + type + " needs a target (target=/path)");
    }
    if (options.contains("sharing") && type != "cache") fail("sharing is only valid for --mount type=cache");
    if (options.contains("size") && type != "tmpfs") fail("size is only valid for --mount type=tmpfs");
    return mount;
}

std::optional<long double> parse_go_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    bool negative = false;
    if (text.front() == '-' || text.front() == '+') {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text == "0") return 0.0L;
    if (text.empty()) return std::nullopt;
    long double total = 0;
    while (!text.empty()) {
        std::size_t pos = 0;
        long double value = 0;
        bool digits = false;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
            value = value * 10 + (text[pos++] - '0');
            digits = true;
        }
        if (pos < text.size() && text[pos] == '.') {
            ++pos;
            long double scale = 0.1L;
            while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
                value += (text[pos++] - '0') * scale;
                scale /= 10;
                digits = true;
            }
        }
        if (!digits) return std::nullopt;
        std::size_t unit_end = pos;
        while (unit_end < text.size() && text[unit_end] != '.' &&
               !std::isdigit(static_cast<unsigned char>(text[unit_end]))) {
            ++unit_end;
        }
        const std::string_view unit = text.substr(pos, unit_end - pos);
        long double scale = 0;
        if (unit == "ns") scale = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3L;
        else if (unit == "ms") scale = 1e6L;
        else if (unit == "s") scale = 1e9L;
        else if (unit == "m") scale = 60e9L;
        else if (unit == "h") scale = 3600e9L;
        else return std::nullopt;  // missing or unknown unit
        total += value * scale;
        text.remove_prefix(unit_end);
    }
    return negative ? -total : total;
}

bool valid_chmod(std::string_view text) {
    if (text.empty()) return false;
    if (text.find_first_not_of("01234567") == std::string_view::npos) {
        unsigned value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
        return error == std::errc{} && end == text.data() + text.size() && value <= 07777;
    }
    // Symbolic: comma-separated clauses [ugoa]*([-+=][rwxXst]*)+
    std::size_t pos = 0;
    while (true) {
        while (pos < text.size() && std::string_view("ugoa").find(text[pos]) != std::string_view::npos) ++pos;
        bool any_op = false;
        while (pos < text.size() && std::string_view("+-=").find(text[pos]) != std::string_view::npos) {
            any_op = true;
            ++pos;
            while (pos < text.size() && std::string_view("rwxXst").find(text[pos]) != std::string_view::npos) ++pos;
        }
        if (!any_op) return false;
        if (pos == text.size()) return true;
        if (text[pos] != ',') return false;
        ++pos;
    }
}

}  // namespace kiln::parser::typed
