#pragma once
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::parser {

// Looks a variable up: std::nullopt means "unset" (distinct from set-but-empty, which
// ${V:-x} and ${V-x} tell apart).
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The simple environment most callers have. std::less<> allows lookup by string_view.
using EnvMap = std::map<std::string, std::string, std::less<>>;

// Builds an EnvMap from "NAME=value" entries (an entry without '=' is set to ""); a later
// entry for the same name wins, as in BuildKit's BuildEnvs.
EnvMap env_from_list(const std::vector<std::string>& entries);

// A lookup over a map; the map must outlive the returned function.
EnvLookup lookup_in(const EnvMap& env);

struct ExpandResult {
    std::string word;                 // single-word result (whitespace kept)
    std::vector<std::string> words;   // the same input split into words
    std::set<std::string> matched;    // variables looked up and found
    std::set<std::string> unmatched;  // variables looked up and not set
};

// Switches of BuildKit's shell.Lex; all off is what Dockerfile instructions use.
struct ExpandOptions {
    bool raw_quotes = false;           // keep the quote characters in the output
    bool raw_escapes = false;          // keep escape characters in the output
    bool skip_process_quotes = false;  // quotes are ordinary characters
    bool skip_unset_env = false;       // leave references to unset variables as written
};

// Shell-word processing exactly as BuildKit's frontend/dockerfile/shell Lex: quote removal,
// escapes, $V / ${V} / ${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?m} ${V?m} ${V#p} ${V##p} ${V%p}
// ${V%%p} ${V/p/r} ${V//p/r}. Anything else (command substitution, arithmetic, ~) is literal.
// Errors throw kiln::Error: "failed to process \"INPUT\": REASON".
class ShellExpander {
public:
    // escape is the Dockerfile's escape character: '\\' (default) or '`'.
    explicit ShellExpander(char escape = '\\', ExpandOptions options = {});

    // Single-word and word-split results plus the variables looked up, in one pass.
    ExpandResult process(std::string_view input, const EnvLookup& env) const;
    ExpandResult process(std::string_view input, const EnvMap& env) const;

    // Single-word mode (ENV/LABEL values, WORKDIR, USER, FROM, ...).
    std::string expand_word(std::string_view input, const EnvLookup& env) const;
    std::string expand_word(std::string_view input, const EnvMap& env) const;

    // Word-splitting mode (COPY/ADD sources, EXPOSE, VOLUME, ...): splits on whitespace that
    // is neither quoted nor escaped, including whitespace produced by an unquoted expansion.
    std::vector<std::string> expand_words(std::string_view input, const EnvLookup& env) const;
    std::vector<std::string> expand_words(std::string_view input, const EnvMap& env) const;

    char escape() const { return escape_; }
    const ExpandOptions& options() const { return options_; }

    // ${...} may nest (${a:-${b:-c}}); deeper than this is refused rather than risking the
    // stack on hostile input.
    static constexpr int kMaxNesting = 64;

private:
    char escape_;
    ExpandOptions options_;
};

}  // namespace kiln::parser
