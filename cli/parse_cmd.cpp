// `kiln parse [--json | --dump] [FILE|-]`: the Dockerfile parser from the command line.
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "parser/instructions.hpp"
#include "parser/parse.hpp"
#include "parser/read_input.hpp"

namespace kiln::cli {
namespace {

struct ParseOptions {
    bool json = false;
    bool dump = false;
    std::string file = "Dockerfile";
};

nlohmann::json position_json(parser::Position pos) {
    return {{"line", pos.line}, {"column", pos.column}};
}

nlohmann::json instruction_json(const parser::Instruction& instruction) {
    nlohmann::json out = {
        {"keyword", instruction.keyword},
        {"flags", instruction.flags},
        {"args", instruction.args},
        {"json_form", instruction.json_form},
        {"original", instruction.original},
        {"keyword_pos", position_json(instruction.keyword_pos)},
        {"range", {{"start", position_json(instruction.range.start)},
                   {"end", position_json(instruction.range.end)}}},
    };
    nlohmann::json heredocs = nlohmann::json::array();
    for (const parser::Heredoc& heredoc : instruction.heredocs) {
        heredocs.push_back({{"name", heredoc.name},
                            {"content", heredoc.content},
                            {"expand", heredoc.expand},
                            {"chomp", heredoc.chomp},
                            {"fd", heredoc.fd}});
    }
    out["heredocs"] = std::move(heredocs);
    out["inner"] = instruction.inner ? instruction_json(*instruction.inner) : nlohmann::json(nullptr);
    return out;
}

nlohmann::json file_json(const parser::Dockerfile& file) {
    nlohmann::json directives = nlohmann::json::array();
    for (const parser::Directive& directive : file.directives) {
        directives.push_back({{"name", directive.name}, {"value", directive.value}, {"line", directive.line}});
    }
    nlohmann::json instructions = nlohmann::json::array();
    for (const parser::Instruction& instruction : file.instructions) {
        instructions.push_back(instruction_json(instruction));
    }
    nlohmann::json warnings = nlohmann::json::array();
    for (const parser::Warning& warning : file.warnings) {
        warnings.push_back({{"message", warning.message},
                            {"detail", warning.detail},
                            {"range", {{"start", position_json(warning.range.start)},
                                       {"end", position_json(warning.range.end)}}}});
    }
    return {{"file", file.filename},
            {"escape", std::string(1, file.escape)},
            {"directives", std::move(directives)},
            {"instructions", std::move(instructions)},
            {"warnings", std::move(warnings)}};
}

void run_parse(const ParseOptions& options, int& exit_code) {
    const std::string name = options.file == "-" ? "<stdin>" : options.file;
    const parser::Dockerfile file = parser::parse_dockerfile(parser::read_dockerfile_input(options.file), name);
    if (options.dump) {
        std::cout << parser::dump(file);
    } else if (options.json) {
        // Replacing invalid UTF-8 keeps invalid UTF-8 in arguments from aborting the output.
        std::cout << file_json(file).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    } else {
        parser::to_program(file);
        for (const parser::Warning& warning : file.warnings) {
            std::cerr << name << ':' << warning.range.start.line << ": warning: " << warning.message << '\n';
        }
    }
    exit_code = 0;
}

}  // namespace

void register_parse_commands(CLI::App& app, const GlobalOptions& /*global*/, int& exit_code) {
    auto options = std::make_shared<ParseOptions>();
    CLI::App* parse = app.add_subcommand(
        "parse", "Parse a Dockerfile: check it (default), or print its AST (--json) or BuildKit dump (--dump)");
    auto* json = parse->add_flag("--json", options->json, "Print the AST as JSON");
    auto* dump = parse->add_flag("--dump", options->dump, "Print BuildKit's raw AST dump (accepts unknown instructions)");
    json->excludes(dump);
    parse->add_option("file", options->file, "Dockerfile to read, '-' for standard input")
        ->capture_default_str();
    parse->callback([options, &exit_code] { run_parse(*options, exit_code); });
}

}  // namespace kiln::cli
