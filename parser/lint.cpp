// Dockerfile lint checks with BuildKit's rule names, messages and triggers.
#include "parser/lint.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "parser/expand.hpp"
#include "util/error.hpp"

namespace kiln::parser {

namespace {

const LintRule kJSONArgsRecommended{
    "JSONArgsRecommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to "
    "OS signals",
    "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"};
const LintRule kStageNameCasing{"StageNameCasing", "Stage names should be lowercase",
                                "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"};
const LintRule kFromAsCasing{"FromAsCasing",
                             "The 'as' keyword should match the case of the 'from' keyword",
                             "https://docs.docker.com/go/dockerfile/rule/from-as-casing/"};
const LintRule kDuplicateStageName{
    "DuplicateStageName", "Stage names should be unique",
    "https://docs.docker.com/go/dockerfile/rule/duplicate-stage-name/"};
const LintRule kReservedStageName{
    "ReservedStageName", "Reserved words should not be used as stage names",
    "https://docs.docker.com/go/dockerfile/rule/reserved-stage-name/"};
const LintRule kMaintainerDeprecated{
    "MaintainerDeprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
    "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"};
const LintRule kUndefinedVar{"UndefinedVar", "Variables should be defined before their use",
                             "https://docs.docker.com/go/dockerfile/rule/undefined-var/"};
const LintRule kUndefinedArgInFrom{
    "UndefinedArgInFrom", "FROM command must use declared ARGs",
    "https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/"};
const LintRule kWorkdirRelativePath{
    "WorkdirRelativePath",
    "Relative workdir without an absolute workdir declared within the build can have "
    "unexpected results if the base image changes",
    "https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/"};
const LintRule kConsistentInstructionCasing{
    "ConsistentInstructionCasing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)",
    "https://docs.docker.com/go/dockerfile/rule/consistent-instruction-casing/"};
const LintRule kMultipleInstructionsDisallowed{
    "MultipleInstructionsDisallowed",
    "Multiple instructions of the same type should not be used in the same stage",
    "https://docs.docker.com/go/dockerfile/rule/multiple-instructions-disallowed/"};
const LintRule kLegacyKeyValueFormat{
    "LegacyKeyValueFormat", "Legacy key/value format with whitespace separator should not be used",
    "https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/"};

const LintRule kNoEmptyContinuation{
    "NoEmptyContinuation", "Empty continuation lines will become errors in a future release",
    "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"};

// Platform arguments BuildKit defines for every FROM line.
const std::set<std::string, std::less<>> kBuiltinPlatformArgs = {
    "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"};

// Build arguments BuildKit never puts into the environment, so never "undefined".
const std::set<std::string, std::less<>> kNonEnvArgs = {"BUILDKIT_SBOM_SCAN_CONTEXT",
                                                        "BUILDKIT_SBOM_SCAN_STAGE"};

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
std::string to_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string trim_ascii(std::string_view s) {
    const char* ws = " \t\r\n\v\f";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return "";
    auto e = s.find_last_not_of(ws);
    return std::string(s.substr(b, e - b + 1));
}

// Go's strconv.ParseBool.
std::optional<bool> parse_bool(std::string_view v) {
    static const std::set<std::string_view> yes = {"1", "t", "T", "TRUE", "true", "True"};
    static const std::set<std::string_view> no = {"0", "f", "F", "FALSE", "false", "False"};
    if (yes.count(v)) return true;
    if (no.count(v)) return false;
    return std::nullopt;
}

// The keyword exactly as written (casing checks need it; the AST keeps it lowercased).
std::string written_keyword(const Instruction& ins) {
    std::string_view o = ins.original;
    auto b = o.find_first_not_of(" \t");
    if (b == std::string_view::npos) return ins.keyword;
    std::string_view word = o.substr(b, ins.keyword.size());
    return to_lower(word) == ins.keyword ? std::string(word) : ins.keyword;
}

std::size_t levenshtein(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// BuildKit's suggest.Search: the closest option within edit distance 2, none on an exact hit.
std::string suggest(std::string_view value, const std::vector<std::string>& options) {
    std::string match;
    std::size_t best = 3;
    for (const auto& opt : options) {
        if (opt == value) return "";
        std::size_t d = levenshtein(value, opt);
        if (d < best) {
            best = d;
            match = opt;
        }
    }
    return match;
}

struct StageState {
    std::string name;  // lowercased, "" for an unnamed stage
    std::map<std::string, std::string> env;
    bool shell_set = false;
    bool absolute_workdir = false;
};

class Linter {
public:
    Linter(const Dockerfile& file, const LintOptions& options)
        : file_(file), options_(options), expander_(file.escape) {}

    std::vector<LintWarning> run() {
        std::size_t i = 0;
        // Global ARGs (before the first FROM) are what FROM lines may use.
        for (; i < file_.instructions.size() && file_.instructions[i].keyword != "from"; ++i) {
            const Instruction& ins = file_.instructions[i];
            if (ins.keyword == "arg") declare_meta_args(ins);
        }
        check_casing(i);
        for (; i < file_.instructions.size(); ++i) {
            const Instruction& ins = file_.instructions[i];
            if (ins.keyword == "from") {
                finish_stage();
                start_stage(ins);
            } else if (stage_) {
                instruction(ins);
            }
        }
        finish_stage();
        return std::move(warnings_);
    }

private:
    void warn(const LintRule& rule, const Instruction& ins, std::string message) {
        warnings_.push_back({std::string(rule.name), std::move(message),
                             std::string(rule.description), std::string(rule.url), ins.range,
                             ins.keyword_pos});
    }

    // Expands a word, returning the variables it used that nothing defines.
    std::pair<std::string, std::set<std::string>> expand(
        std::string_view word, const std::map<std::string, std::string>& env) const {
        EnvLookup lookup = [&env](std::string_view n) -> std::optional<std::string> {
            auto it = env.find(std::string(n));
            if (it == env.end()) return std::nullopt;
            return it->second;
        };
        try {
            ExpandResult r = expander_.process(word, lookup);
            return {r.word, r.unmatched};
        } catch (const kiln::Error&) {
            return {std::string(word), {}};  // the build reports expansion errors itself
        }
    }

    void declare_meta_args(const Instruction& ins) {
        for (const std::string& a : ins.args) {
            auto eq = a.find('=');
            std::string key = a.substr(0, eq);
            meta_declared_.insert(key);
            if (eq != std::string::npos) {
                meta_env_[key] = expand(a.substr(eq + 1), meta_env_).first;
            }
        }
    }

    // ConsistentInstructionCasing over the stages (global ARGs do not count, as in BuildKit).
    void check_casing(std::size_t first) {
        int lower = 0, upper = 0;
        auto count = [&](const std::string& k) {
            if (to_lower(k) == k) ++lower;
            else if (to_upper(k) == k) ++upper;
        };
        for (std::size_t i = first; i < file_.instructions.size(); ++i) {
            count(written_keyword(file_.instructions[i]));
        }
        bool majority_lower = lower > upper;
        for (std::size_t i = first; i < file_.instructions.size(); ++i) {
            const Instruction& ins = file_.instructions[i];
            std::string k = written_keyword(ins);
            const char* casing = nullptr;
            if (majority_lower && to_lower(k) != k) casing = "lowercase";
            if (!majority_lower && to_upper(k) != k) casing = "uppercase";
            if (casing) {
                warn(kConsistentInstructionCasing, ins,
                     "Command '" + k + "' should match the case of the command majority (" +
                         casing + ")");
            }
        }
    }

    void check_from_args(const Instruction& ins, std::string_view word) {
        std::map<std::string, std::string> env = meta_env_;
        for (const auto& a : kBuiltinPlatformArgs) env.emplace(a, "");
        std::vector<std::string> declared(meta_declared_.begin(), meta_declared_.end());
        for (const auto& a : kBuiltinPlatformArgs) declared.push_back(a);
        for (const std::string& name : expand(word, env).second) {
            if (meta_declared_.count(name) || kBuiltinPlatformArgs.count(name)) continue;
            std::string msg = "FROM argument '" + name + "' is not declared";
            std::string s = suggest(name, declared);
            if (!s.empty()) msg += " (did you mean " + s + "?)";
            warn(kUndefinedArgInFrom, ins, msg);
        }
    }

    void start_stage(const Instruction& ins) {
        stage_.emplace();
        StageState& st = *stage_;
        st.env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

        std::string image = ins.args.empty() ? "" : ins.args[0];
        check_from_args(ins, image);
        for (const std::string& f : ins.flags) {
            if (f.rfind("--platform=", 0) == 0) check_from_args(ins, f.substr(11));
        }

        if (ins.args.size() == 3 && to_lower(ins.args[1]) == "as") {
            std::string from = written_keyword(ins);
            const std::string& as = ins.args[1];
            bool from_lower = to_lower(from) == from, from_upper = to_upper(from) == from;
            if ((from_lower && to_lower(as) != as) || (!from_lower && from_upper && to_upper(as) != as)) {
                warn(kFromAsCasing, ins, "'" + as + "' and '" + from + "' keywords' casing do not match");
            }
            const std::string& name = ins.args[2];
            if (to_lower(name) != name) {
                warn(kStageNameCasing, ins, "Stage name '" + name + "' should be lowercase");
            }
            st.name = to_lower(name);
            if (st.name == "scratch" || st.name == "context") {
                warn(kReservedStageName, ins,
                     "Stage name should not use the same name as reserved stage \"" + st.name + "\"");
            }
            if (stages_.count(st.name)) {
                warn(kDuplicateStageName, ins,
                     "Duplicate stage name \"" + st.name + "\", stage names should be unique");
            }
        }

        // A stage built on an earlier one starts from its environment.
        std::string base = to_lower(expand(image, meta_env_).first);
        if (auto it = stages_.find(base); it != stages_.end()) {
            st.env = it->second.env;
            st.shell_set = it->second.shell_set;
            st.absolute_workdir = it->second.absolute_workdir;
        } else if (options_.base_env) {
            if (auto keys = options_.base_env(expand(image, meta_env_).first)) {
                for (const auto& k : *keys) st.env.emplace(k, "");
            }
        }
    }

    void finish_stage() {
        if (!stage_) return;
        // Only the last CMD / ENTRYPOINT / HEALTHCHECK of a stage takes effect.
        for (const auto& entry : repeated_) {
            const std::vector<const Instruction*>& list = entry.second;
            for (std::size_t k = 0; k + 1 < list.size(); ++k) {
                // Reported where the overridden instruction is, named as the later one
                // was written.
                warn(kMultipleInstructionsDisallowed, *list[k],
                     "Multiple " + written_keyword(*list[k + 1]) +
                         " instructions should not be used in the same stage because only the "
                         "last one will be used");
            }
        }
        repeated_.clear();
        stage_args_.clear();
        if (!stage_->name.empty()) stages_[stage_->name] = *stage_;
        stage_.reset();
    }

    // Expands `word` in the stage's scope and reports UndefinedVar for what stays unset.
    std::string use(const Instruction& ins, std::string_view word) {
        auto [value, unmatched] = expand(word, stage_->env);
        std::vector<std::string> options;
        for (const auto& [k, v] : stage_->env) options.push_back(k);
        for (const std::string& name : unmatched) {
            if (stage_args_.count(name)) continue;  // declared ARG without a value
            if (kNonEnvArgs.count(name)) continue;
            std::string msg = "Usage of undefined variable '$" + name + "'";
            std::string s = suggest(name, options);
            if (!s.empty()) msg += " (did you mean $" + s + "?)";
            warn(kUndefinedVar, ins, msg);
        }
        return value;
    }

    // ENV and LABEL arguments come as (key, value, separator) triples; an empty separator
    // is the legacy "KEY value" form.
    void key_values(const Instruction& ins, bool set_env) {
        std::vector<std::pair<std::string, std::string>> out;
        bool legacy = false;
        for (std::size_t k = 0; k + 1 < ins.args.size(); k += 3) {
            if (k + 2 >= ins.args.size() || ins.args[k + 2].empty()) legacy = true;
            out.emplace_back(use(ins, ins.args[k]), use(ins, ins.args[k + 1]));
        }
        if (legacy && !ins.args.empty()) {
            std::string name = written_keyword(ins);
            warn(kLegacyKeyValueFormat, ins,
                 "\"" + name + " key=value\" should be used instead of legacy \"" + name +
                     " key value\" format");
        }
        if (set_env) {
            for (auto& [k, v] : out) stage_->env[k] = v;
        }
    }

    void instruction(const Instruction& ins) {
        const std::string& k = ins.keyword;
        StageState& st = *stage_;
        if (k == "env") {
            key_values(ins, true);
        } else if (k == "label") {
            key_values(ins, false);
        } else if (k == "arg") {
            for (const std::string& a : ins.args) {
                auto eq = a.find('=');
                std::string key = a.substr(0, eq);  // ARG names are not expanded
                std::optional<std::string> value;
                if (eq != std::string::npos) {
                    value = use(ins, a.substr(eq + 1));
                } else if (auto it = meta_env_.find(key); it != meta_env_.end()) {
                    value = it->second;  // a global ARG redeclared in the stage
                }
                stage_args_.insert(key);
                if (value) st.env[key] = *value;
            }
        } else if (k == "copy" || k == "add") {
            for (const std::string& a : ins.args) {
                if (a.rfind("<<", 0) != 0) use(ins, a);
            }
            for (const std::string& f : ins.flags) {
                for (const char* name : {"--chown=", "--chmod=", "--from="}) {
                    if (f.rfind(name, 0) == 0) use(ins, std::string_view(f).substr(std::string_view(name).size()));
                }
            }
        } else if (k == "workdir") {
            if (ins.args.empty()) return;
            std::string path = use(ins, ins.args[0]);
            if (!path.empty() && path[0] == '/') {
                st.absolute_workdir = true;
            } else if (!st.absolute_workdir) {
                warn(kWorkdirRelativePath, ins,
                     "Relative workdir \"" + path + "\" can have unexpected results if the base "
                     "image changes");
            }
        } else if (k == "user" || k == "expose" || k == "volume" || k == "stopsignal") {
            for (const std::string& a : ins.args) use(ins, a);
        } else if (k == "shell") {
            st.shell_set = true;
        } else if (k == "maintainer") {
            warn(kMaintainerDeprecated, ins,
                 "Maintainer instruction is deprecated in favor of using label");
        } else if (k == "cmd" || k == "entrypoint" || k == "healthcheck") {
            repeated_[k].push_back(&ins);
            if (k != "healthcheck" && !ins.json_form && !st.shell_set) {
                warn(kJSONArgsRecommended, ins,
                     "JSON arguments recommended for " + written_keyword(ins) +
                         " to prevent unintended behavior related to OS signals");
            }
        }
    }

    const Dockerfile& file_;
    const LintOptions& options_;
    ShellExpander expander_;
    std::vector<LintWarning> warnings_;
    std::map<std::string, std::string> meta_env_;
    std::set<std::string> meta_declared_;
    std::optional<StageState> stage_;
    std::set<std::string> stage_args_;
    std::map<std::string, std::vector<const Instruction*>> repeated_;
    std::map<std::string, StageState> stages_;
};

}  // namespace

const std::vector<LintRule>& lint_rules() {
    static const std::vector<LintRule> rules = {
        kJSONArgsRecommended, kStageNameCasing,     kFromAsCasing,
        kDuplicateStageName,  kReservedStageName,   kMaintainerDeprecated,
        kUndefinedVar,        kUndefinedArgInFrom,  kWorkdirRelativePath,
        kConsistentInstructionCasing, kMultipleInstructionsDisallowed, kLegacyKeyValueFormat,
        kNoEmptyContinuation};
    return rules;
}

LintConfig parse_check_directive(std::string_view value) {
    LintConfig config;
    std::string v = trim_ascii(value);
    v = v.substr(0, v.find_first_of(" \t"));  // only the first token is read
    if (v.empty()) return config;
    auto semi = v.find(';');
    std::vector<std::string> parts{v.substr(0, semi)};
    if (semi != std::string::npos) parts.push_back(v.substr(semi + 1));
    for (const std::string& part : parts) {
        auto eq = part.find('=');
        if (eq == std::string::npos) {
            throw kiln::Error("invalid check option \"" + part +
                              "\" (expected skip=Rule1,Rule2|all or error=true|false)");
        }
        std::string key = trim_ascii(part.substr(0, eq));
        std::string val = part.substr(eq + 1);
        if (key == "skip") {
            val = trim_ascii(val);
            if (val == "all") {
                config.skip_all = true;
                continue;
            }
            std::size_t start = 0;
            for (;;) {
                auto comma = val.find(',', start);
                config.skip.insert(trim_ascii(val.substr(start, comma == std::string::npos
                                                                    ? std::string::npos
                                                                    : comma - start)));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        } else if (key == "error") {
            auto b = parse_bool(trim_ascii(val));
            if (!b) throw kiln::Error("failed to parse check option \"" + part + "\": not a boolean");
            config.error = *b;
        } else if (key == "experimental") {
            // Experimental rules are opt-in in BuildKit; kiln has none, so nothing to enable.
        } else {
            throw kiln::Error("invalid check option \"" + key + "\"");
        }
    }
    return config;
}

LintResult lint(const Dockerfile& file, const LintOptions& options) {
    LintResult result;
    if (options.check) {
        result.config = parse_check_directive(*options.check);
    } else {
        for (const Directive& d : file.directives) {
            if (d.name == "check") result.config = parse_check_directive(d.value);
        }
    }
    if (result.config.skip_all) return result;
    std::vector<LintWarning> found = Linter(file, options).run();
    // The parse stage reports empty continuation lines; BuildKit surfaces them as a check.
    for (const Warning& w : file.warnings) {
        if (w.message.find("Empty continuation") == std::string::npos) continue;
        found.push_back({std::string(kNoEmptyContinuation.name), "Empty continuation line",
                         std::string(kNoEmptyContinuation.description),
                         std::string(kNoEmptyContinuation.url), w.range, w.range.start});
    }
    for (LintWarning& w : found) {
        if (!result.config.skip.count(w.rule)) result.warnings.push_back(std::move(w));
    }
    std::stable_sort(result.warnings.begin(), result.warnings.end(),
                     [](const LintWarning& a, const LintWarning& b) {
                         if (a.position.line != b.position.line) return a.position.line < b.position.line;
                         return a.position.column < b.position.column;
                     });
    return result;
}

std::string format_warning(const Dockerfile& file, const LintWarning& w) {
    std::string name = file.filename.empty() ? "Dockerfile" : file.filename;
    int line = w.position.line, col = std::max(w.position.column, 1);
    std::string out = name + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
                      w.rule + ": " + w.message + "\n";
    if (line >= 1 && static_cast<std::size_t>(line) <= file.lines.size()) {
        out += "  " + file.lines[line - 1] + "\n";
        out += "  " + std::string(static_cast<std::size_t>(col - 1), ' ') + "^\n";
    }
    out += "  " + w.description + "\n";
    if (!w.url.empty()) out += "  " + w.url + "\n";
    return out;
}

}  // namespace kiln::parser
