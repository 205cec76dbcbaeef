#pragma once
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "parser/ast.hpp"

namespace kiln::parser {

// Dockerfile checks as BuildKit's linter runs them (`docker build --check`), over the raw
// AST: JSONArgsRecommended, StageNameCasing, FromAsCasing, DuplicateStageName,
// ReservedStageName, MaintainerDeprecated, UndefinedVar, UndefinedArgInFrom,
// WorkdirRelativePath, ConsistentInstructionCasing, MultipleInstructionsDisallowed,
// LegacyKeyValueFormat, plus NoEmptyContinuation from the parse stage's warnings.

struct LintRule {
    std::string_view name;
    std::string_view description;
    std::string_view url;
};

// Every rule kiln knows, in the order above.
const std::vector<LintRule>& lint_rules();

// The `# check=` directive: "skip=Rule1,Rule2" or "skip=all", ";", "error=true|false".
struct LintConfig {
    std::set<std::string> skip;
    bool skip_all = false;
    bool error = false;  // a warning fails the build / makes `kiln lint` exit 1
};

// Parses a check directive value as BuildKit does (only its first space-separated token is
// read; at most one ';'). Throws kiln::Error for an unknown key or a bad boolean.
LintConfig parse_check_directive(std::string_view value);

struct LintWarning {
    std::string rule;
    std::string message;  // the short text, e.g. "Stage name 'Build' should be lowercase"
    std::string description;
    std::string url;
    Range range;         // the instruction it is about
    Position position;   // where to point (the instruction keyword)
};

struct LintOptions {
    // Environment variable names a base image defines, or nullopt when unknown. Without
    // it only PATH (which every stage gets) is assumed.
    std::function<std::optional<std::vector<std::string>>(const std::string& image)> base_env;
    // Overrides the file's `# check=` directive when set (like BUILDKIT_DOCKERFILE_CHECK).
    std::optional<std::string> check;
};

struct LintResult {
    LintConfig config;
    std::vector<LintWarning> warnings;  // skipped rules already removed; sorted by position
    // error=true and something fired: the build must fail.
    bool failed() const { return config.error && !warnings.empty(); }
};

// Throws kiln::Error only for an invalid `# check=` directive.
LintResult lint(const Dockerfile& file, const LintOptions& options = {});

// "Dockerfile:LINE:COL: Rule: message" followed by the source line with a caret, the rule's
// description and its documentation link, each on its own indented line.
std::string format_warning(const Dockerfile& file, const LintWarning& warning);

}  // namespace kiln::parser
