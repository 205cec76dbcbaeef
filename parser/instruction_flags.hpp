#pragma once
// Flag handling for the typed stage (BuildKit's BFlags): declared flags, their values,
// and the checks on flag values (mounts, durations, modes). Internal to kiln_parser.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/ast.hpp"
#include "parser/instructions.hpp"

namespace kiln::parser::typed {

// Where errors about one instruction point: the file, and the top-level instruction whose
// lines hold the text (for ONBUILD triggers that is the ONBUILD line).
struct Site {
    const Dockerfile& file;
    const Instruction& located;

    // Position of `needle` in the instruction's lines, or of its keyword.
    Position find(std::string_view needle) const;
    [[noreturn]] void fail(Position pos, const std::string& message) const;
    [[noreturn]] void fail_at(std::string_view needle, const std::string& message) const {
        fail(find(needle), message);
    }
};

class FlagSet {
public:
    enum class Kind { string, boolean, repeated };

    FlagSet(const Site& site, const Instruction& instruction, std::string keyword_upper);

    FlagSet& declare(const std::string& name, Kind kind);
    // Checks every flag written against the declarations; throws ParseError.
    void parse();

    std::string string(const std::string& name) const;  // "" when absent
    bool boolean(const std::string& name) const;
    const std::vector<std::string>& repeated(const std::string& name) const;
    bool given(const std::string& name) const;

    [[noreturn]] void fail(const std::string& name, const std::string& message) const;

private:
    struct Value {
        Kind kind = Kind::string;
        bool given = false;
        std::string text;
        std::vector<std::string> texts;
    };
    const Site& site_;
    const Instruction& instruction_;
    std::string keyword_;
    std::map<std::string, Value> values_;
};

// `--mount=type=cache,target=/root/.cache,sharing=locked` → canonical options
// (type, target, source, from, readonly, id, sharing, mode, uid, gid, required, size, env).
RunMount parse_mount(const FlagSet& flags, std::string_view spec);

// Go time.ParseDuration; nullopt when malformed. Value in nanoseconds.
std::optional<long double> parse_go_duration(std::string_view text);

// Octal (`0755`) or symbolic (`u+x,go-w`) chmod value.
bool valid_chmod(std::string_view text);

}  // namespace kiln::parser::typed
