// `kiln lint [--json] [--check OPTS] [FILE|-]`: BuildKit's Dockerfile checks, without a build.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "parser/lint.hpp"
#include "parser/parse.hpp"
#include "parser/read_input.hpp"
#include "util/error.hpp"

namespace kiln::cli {
namespace {

struct LintCliOptions {
    std::string file = "Dockerfile";
    std::string check;
    bool json = false;
};

int run_lint(const LintCliOptions& opts) {
    std::string name = opts.file == "-" ? "Dockerfile" : opts.file;
    parser::Dockerfile file = parser::parse_dockerfile(parser::read_dockerfile_input(opts.file), name);
    parser::LintOptions lint_options;
    if (!opts.check.empty()) lint_options.check = opts.check;
    parser::LintResult result = parser::lint(file, lint_options);

    if (opts.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& w : result.warnings) {
            out.push_back({{"rule", w.rule},
                           {"message", w.message},
                           {"description", w.description},
                           {"url", w.url},
                           {"file", name},
                           {"line", w.position.line},
                           {"column", w.position.column},
                           {"end_line", w.range.end.line}});
        }
        std::cout << out.dump(2) << std::endl;
    } else {
        for (const auto& w : result.warnings) std::cout << parser::format_warning(file, w);
        if (!result.warnings.empty()) {
            std::cout << result.warnings.size()
                      << (result.warnings.size() == 1 ? " warning" : " warnings") << " found"
                      << (result.failed() ? " (check error=true: failing)" : "") << std::endl;
        }
    }
    return result.failed() ? 1 : 0;
}

}  // namespace

void register_lint_commands(CLI::App& app, const GlobalOptions& /*global*/, int& exit_code) {
    auto opts = std::make_shared<LintCliOptions>();
    CLI::App* cmd = app.add_subcommand(
        "lint", "Check a Dockerfile with BuildKit's lint rules (exit 1 when '# check=error=true')");
    cmd->add_option("file", opts->file, "Dockerfile to check ('-' for stdin)")
        ->capture_default_str();
    cmd->add_option("--check", opts->check,
                    "Override the '# check=' directive, e.g. 'skip=UndefinedVar;error=true'");
    cmd->add_flag("--json", opts->json, "Print the warnings as JSON");
    cmd->callback([opts, &exit_code] { exit_code = run_lint(*opts); });
}

}  // namespace kiln::cli
