#include "builder/config_edit.hpp"

#include <nlohmann/json.hpp>

#include "parser/parse.hpp"
#include "util/error.hpp"

namespace kiln::builder {

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// ENV and LABEL: every pair is expanded against the state before the instruction.
Pairs expand_pairs(const std::vector<parser::KeyValue>& pairs, const BuildVariables& vars, const ImageConfig& config,
                   std::string& created_by) {
    Pairs values;
    for (const auto& kv : pairs) {
        std::string key = vars.expand(kv.key, config);
        std::string value = vars.expand(kv.value, config);
        created_by += " " + key + "=" + value;
        values.emplace_back(key, value);
    }
    return values;
}

// Shell form runs under the SHELL in effect.
std::vector<std::string> command_args(const parser::CommandLine& line, const ImageConfig& config) {
    if (!line.shell_form) return line.args;
    auto args = config.shell();
    args.insert(args.end(), line.args.begin(), line.args.end());
    return args;
}

struct EditOf {
    const BuildVariables& vars;
    const ImageConfig& config;

    std::optional<ConfigEdit> operator()(const parser::EnvCmd& cmd) const {
        std::string created_by = "ENV";
        Pairs values = expand_pairs(cmd.vars, vars, config, created_by);
        return ConfigEdit{created_by, [values](ImageConfig& c) {
                              for (const auto& [k, v] : values) c.set_env(k, v);
                          }};
    }
    std::optional<ConfigEdit> operator()(const parser::LabelCmd& cmd) const {
        std::string created_by = "LABEL";
        Pairs values = expand_pairs(cmd.labels, vars, config, created_by);
        return ConfigEdit{created_by, [values](ImageConfig& c) {
                              for (const auto& [k, v] : values) c.set_label(k, v);
                          }};
    }
    std::optional<ConfigEdit> operator()(const parser::WorkdirCmd& cmd) const {
        std::string path = vars.expand(cmd.path, config);
        return ConfigEdit{"WORKDIR " + path, [path](ImageConfig& c) { c.set_working_dir(path); }};
    }
    std::optional<ConfigEdit> operator()(const parser::UserCmd& cmd) const {
        std::string user = vars.expand(cmd.user, config);
        return ConfigEdit{"USER " + user, [user](ImageConfig& c) { c.set_user(user); }};
    }
    std::optional<ConfigEdit> operator()(const parser::CmdCmd& cmd) const {
        auto args = command_args(cmd.command, config);
        return ConfigEdit{"CMD " + nlohmann::json(args).dump(), [args](ImageConfig& c) { c.set_cmd(args); }};
    }
    std::optional<ConfigEdit> operator()(const parser::EntrypointCmd& cmd) const {
        auto args = command_args(cmd.command, config);
        return ConfigEdit{"ENTRYPOINT " + nlohmann::json(args).dump(),
                          [args](ImageConfig& c) { c.set_entrypoint(args); }};
    }
    std::optional<ConfigEdit> operator()(const parser::ShellCmd& cmd) const {
        auto shell = cmd.shell;
        return ConfigEdit{"SHELL " + nlohmann::json(shell).dump(), [shell](ImageConfig& c) { c.set_shell(shell); }};
    }
    std::optional<ConfigEdit> operator()(const parser::ExposeCmd& cmd) const {
        std::vector<std::string> ports;
        for (const auto& p : cmd.ports)
            for (auto& w : vars.expand_words(p, config)) ports.push_back(w);
        std::string created_by = "EXPOSE";
        for (const auto& p : ports) created_by += " " + p;
        return ConfigEdit{created_by, [ports](ImageConfig& c) {
                              for (const auto& p : ports) c.add_exposed_port(p);
                          }};
    }
    std::optional<ConfigEdit> operator()(const parser::VolumeCmd& cmd) const {
        std::vector<std::string> paths;
        for (const auto& p : cmd.paths) paths.push_back(vars.expand(p, config));
        return ConfigEdit{"VOLUME " + nlohmann::json(paths).dump(), [paths](ImageConfig& c) {
                              for (const auto& p : paths) c.add_volume(p);
                          }};
    }
    std::optional<ConfigEdit> operator()(const parser::StopSignalCmd& cmd) const {
        std::string signal = vars.expand(cmd.signal, config);
        return ConfigEdit{"STOPSIGNAL " + signal, [signal](ImageConfig& c) { c.set_stop_signal(signal); }};
    }
    std::optional<ConfigEdit> operator()(const parser::HealthcheckCmd& cmd) const {
        nlohmann::json hc = nlohmann::json::object();
        if (cmd.none) {
            hc["Test"] = {"NONE"};
        } else {
            std::vector<std::string> test{cmd.test.shell_form ? "CMD-SHELL" : "CMD"};
            test.insert(test.end(), cmd.test.args.begin(), cmd.test.args.end());
            hc["Test"] = test;
            if (cmd.retries) hc["Retries"] = *cmd.retries;
        }
        return ConfigEdit{"HEALTHCHECK " + hc.dump(), [hc](ImageConfig& c) { c.set_healthcheck(hc); }};
    }
    std::optional<ConfigEdit> operator()(const parser::MaintainerCmd& cmd) const {
        std::string name = cmd.name;
        return ConfigEdit{"MAINTAINER " + name, [name](ImageConfig& c) { c.set_author(name); }};
    }
    std::optional<ConfigEdit> operator()(const parser::OnbuildCmd& cmd) const {
        std::string expression = cmd.expression;
        return ConfigEdit{"ONBUILD " + expression, [expression](ImageConfig& c) { c.add_onbuild(expression); }};
    }
    template <typename Other>
    std::optional<ConfigEdit> operator()(const Other&) const {
        return std::nullopt;
    }
};

bool accepted_as_change(const parser::Command& command) {
    return std::holds_alternative<parser::CmdCmd>(command) || std::holds_alternative<parser::EntrypointCmd>(command) ||
           std::holds_alternative<parser::EnvCmd>(command) || std::holds_alternative<parser::ExposeCmd>(command) ||
           std::holds_alternative<parser::LabelCmd>(command) || std::holds_alternative<parser::OnbuildCmd>(command) ||
           std::holds_alternative<parser::StopSignalCmd>(command) || std::holds_alternative<parser::UserCmd>(command) ||
           std::holds_alternative<parser::VolumeCmd>(command) || std::holds_alternative<parser::WorkdirCmd>(command);
}

}  // namespace

std::optional<ConfigEdit> config_edit(const parser::Command& command, const BuildVariables& vars,
                                      const ImageConfig& config) {
    return std::visit(EditOf{vars, config}, command);
}

void apply_changes(ImageConfig& config, const std::vector<std::string>& changes) {
    static const std::map<std::string, std::string> no_build_args;
    const BuildVariables vars('\\', no_build_args);
    for (const auto& change : changes) {
        // Typed through the Dockerfile parser, so a change is checked as a Dockerfile line is.
        parser::Program program;
        try {
            auto file = parser::parse_dockerfile("FROM scratch\n" + change + "\n", "--change");
            program = parser::to_program(file);
        } catch (const parser::ParseError& e) {
            throw Error("invalid --change \"" + change + "\": " + e.message());
        }
        const auto& instructions = program.stages.at(0).instructions;
        if (instructions.size() != 1 || program.stages.size() != 1 || !accepted_as_change(instructions[0].command))
            throw Error("invalid --change \"" + change + "\": expected one of " + change_instructions);
        config_edit(instructions[0].command, vars, config)->apply(config);
    }
}

}  // namespace kiln::builder
