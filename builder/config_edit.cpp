#include "builder/config_edit.hpp"

#include <cctype>
#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

#include "builder/go_format.hpp"
#include "parser/instruction_flags.hpp"
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

// A duration the parser already checked ("" when the flag was not given), in nanoseconds.
std::int64_t duration_ns(const std::string& text) {
    if (text.empty()) return 0;
    const auto ns = parser::typed::parse_go_duration(text);
    if (!ns) throw Error("invalid duration \"" + text + "\"");
    return static_cast<std::int64_t>(std::llround(*ns));
}

// EXPOSE PORT[-END][/PROTO] as BuildKit reads it: the protocol lowercased (tcp when none)
// and a range given as each of its ports. Anything else is kept as written.
std::vector<std::string> exposed_ports(const std::string& spec) {
    const std::size_t slash = spec.find('/');
    std::string port = spec.substr(0, slash);
    std::string proto = slash == std::string::npos ? "tcp" : spec.substr(slash + 1);
    for (char& ch : proto) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (proto.empty()) proto = "tcp";
    const auto number = [](const std::string& text) -> std::optional<unsigned> {
        if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        const unsigned value = static_cast<unsigned>(std::stoul(text));
        return value <= 65535 ? std::optional(value) : std::nullopt;
    };
    const std::size_t dash = port.find('-');
    if (dash != std::string::npos) {
        const auto first = number(port.substr(0, dash)), last = number(port.substr(dash + 1));
        if (first && last && *first <= *last) {
            std::vector<std::string> out;
            for (unsigned p = *first; p <= *last; ++p) out.push_back(std::to_string(p) + "/" + proto);
            return out;
        }
    }
    return {port + "/" + proto};
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
        // History names the directory the step ends in, relative paths resolved.
        ImageConfig after = config;
        after.set_working_dir(path);
        return ConfigEdit{"WORKDIR " + after.working_dir(), [path](ImageConfig& c) { c.set_working_dir(path); }};
    }
    std::optional<ConfigEdit> operator()(const parser::UserCmd& cmd) const {
        std::string user = vars.expand(cmd.user, config);
        return ConfigEdit{"USER " + user, [user](ImageConfig& c) { c.set_user(user); }};
    }
    std::optional<ConfigEdit> operator()(const parser::CmdCmd& cmd) const {
        auto args = command_args(cmd.command, config);
        return ConfigEdit{"CMD " + go_quoted_list(args), [args](ImageConfig& c) { c.set_cmd(args); }};
    }
    std::optional<ConfigEdit> operator()(const parser::EntrypointCmd& cmd) const {
        auto args = command_args(cmd.command, config);
        return ConfigEdit{"ENTRYPOINT " + go_quoted_list(args),
                          [args](ImageConfig& c) { c.set_entrypoint(args); }};
    }
    std::optional<ConfigEdit> operator()(const parser::ShellCmd& cmd) const {
        auto shell = cmd.shell;
        return ConfigEdit{"SHELL " + go_list(shell), [shell](ImageConfig& c) { c.set_shell(shell); }};
    }
    std::optional<ConfigEdit> operator()(const parser::ExposeCmd& cmd) const {
        std::vector<std::string> ports;
        for (const auto& p : cmd.ports)
            for (auto& w : vars.expand_words(p, config))
                for (auto& port : exposed_ports(w)) ports.push_back(std::move(port));
        return ConfigEdit{"EXPOSE " + go_list(ports), [ports](ImageConfig& c) {
                              for (const auto& p : ports) c.add_exposed_port(p);
                          }};
    }
    std::optional<ConfigEdit> operator()(const parser::VolumeCmd& cmd) const {
        std::vector<std::string> paths;
        for (const auto& p : cmd.paths) paths.push_back(vars.expand(p, config));
        return ConfigEdit{"VOLUME " + go_list(paths), [paths](ImageConfig& c) {
                              for (const auto& p : paths) c.add_volume(p);
                          }};
    }
    std::optional<ConfigEdit> operator()(const parser::StopSignalCmd& cmd) const {
        std::string signal = vars.expand(cmd.signal, config);
        return ConfigEdit{"STOPSIGNAL " + signal, [signal](ImageConfig& c) { c.set_stop_signal(signal); }};
    }
    std::optional<ConfigEdit> operator()(const parser::HealthcheckCmd& cmd) const {
        std::vector<std::string> test{"NONE"};
        if (!cmd.none) {
            test = {cmd.test.shell_form ? "CMD-SHELL" : "CMD"};
            test.insert(test.end(), cmd.test.args.begin(), cmd.test.args.end());
        }
        const std::int64_t interval = duration_ns(cmd.interval), timeout = duration_ns(cmd.timeout),
                           start_period = duration_ns(cmd.start_period),
                           start_interval = duration_ns(cmd.start_interval);
        const int retries = cmd.retries.value_or(0);
        // Docker's HealthConfig: durations in nanoseconds, zero values left out.
        nlohmann::json hc = {{"Test", test}};
        if (interval) hc["Interval"] = interval;
        if (timeout) hc["Timeout"] = timeout;
        if (start_period) hc["StartPeriod"] = start_period;
        if (start_interval) hc["StartInterval"] = start_interval;
        if (retries) hc["Retries"] = retries;
        // BuildKit writes the struct with %+v.
        std::string created_by = "HEALTHCHECK {Test:" + go_list(test) + " Interval:" + go_duration(interval) +
                                 " Timeout:" + go_duration(timeout) + " StartPeriod:" + go_duration(start_period) +
                                 " StartInterval:" + go_duration(start_interval) +
                                 " Retries:" + std::to_string(retries) + "}";
        return ConfigEdit{created_by, [hc](ImageConfig& c) { c.set_healthcheck(hc); }};
    }
    std::optional<ConfigEdit> operator()(const parser::MaintainerCmd& cmd) const {
        std::string name = cmd.name;
        return ConfigEdit{"MAINTAINER " + name, [name](ImageConfig& c) { c.set_author(name); }};
    }
    std::optional<ConfigEdit> operator()(const parser::OnbuildCmd& cmd) const {
        std::string expression = cmd.expression;
        return ConfigEdit{"ONBUILD " + expression, [expression](ImageConfig& c) { c.add_onbuild(expression); }, false};
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
