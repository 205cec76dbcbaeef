#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/container_aliases.hpp"
#include "parser/parse.hpp"
#include "util/error.hpp"

namespace {

std::string default_root() {
    const char* env = std::getenv("KILN_ROOT");
    return env && *env ? env : "/var/lib/kiln";
}

// The command the arguments name after kiln's global options; "" when an option is not
// one of those (help, a typo), so every command is there for CLI11 to list or refuse.
std::string command_word(const std::vector<std::string>& args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--root" || a == "--config") {
            ++i;
        } else if (a == "--debug" || a.starts_with("--root=") || a.starts_with("--config=")) {
        } else {
            return a.starts_with("-") ? std::string() : a;
        }
    }
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kiln: a daemonless, Docker-compatible image builder and container runner"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every command");
    kiln::cli::GlobalOptions global;
    global.root = default_root();
    app.add_option("--root", global.root, "Store root (env KILN_ROOT)")->capture_default_str();
    app.add_flag("--debug", global.debug, "Print internal detail on errors");
    app.add_option("--config", global.config_dir,
                   "Location of client config files (credentials; default DOCKER_CONFIG, else ~/.docker)");

    int exit_code = 0;
    // `kiln container ls` and the other management-command names (cli/container_aliases.hpp).
    auto args = kiln::cli::resolve_container_alias({argv + 1, argv + argc});
    // Building every command's options costs ~0.5 ms of a 3 ms `ps`: the groups are added
    // in order only until one has the command line's command. Help, an unknown command and
    // the management commands (`image`, `container`, ...: several groups add to each) get
    // them all.
    const std::string command = command_word(args);
    using Register = void (*)(CLI::App&, const kiln::cli::GlobalOptions&, int&);
    static constexpr Register groups[] = {
        kiln::cli::register_parse_commands, kiln::cli::register_lint_commands,
        kiln::cli::register_build_commands, kiln::cli::register_container_commands,
        [](CLI::App& a, const kiln::cli::GlobalOptions& g, int&) { kiln::cli::register_ps_commands(a, g); },
        kiln::cli::register_exec_commands, kiln::cli::register_attach_commands,
        kiln::cli::register_pause_commands, kiln::cli::register_rename_commands,
        kiln::cli::register_port_commands, kiln::cli::register_top_commands,
        kiln::cli::register_stats_commands,
        // Its subcommands come from the two groups after it.
        [](CLI::App& a, const kiln::cli::GlobalOptions&, int&) {
            a.add_subcommand("container", "Manage containers")->require_subcommand(1)->footer(
                kiln::cli::container_alias_help());
        },
        kiln::cli::register_container_ops_commands,
        kiln::cli::register_container_inspect_commands, kiln::cli::register_image_commands,
        kiln::cli::register_archive_commands, kiln::cli::register_cp_commands,
        kiln::cli::register_commit_commands, kiln::cli::register_inspect_commands,
        kiln::cli::register_cache_commands, kiln::cli::register_pull_commands,
        kiln::cli::register_registry_commands, kiln::cli::register_push_commands,
        kiln::cli::register_volume_commands, kiln::cli::register_network_commands,
    };
    const auto is_the_command = [&](const CLI::App* sub) {
        return sub->check_name(command) && sub->get_require_subcommand_min() == 0;
    };
    for (Register add : groups) {
        add(app, global, exit_code);
        if (!command.empty() && !app.get_subcommands(is_the_command).empty()) break;
    }

    std::vector<char*> resolved_argv{argv[0]};
    for (auto& arg : args) resolved_argv.push_back(arg.data());
    try {
        app.parse(static_cast<int>(resolved_argv.size()), resolved_argv.data());
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        // Docker exits 125 when its own flags are wrong; help and version are successes.
        return rc == 0 ? 0 : 125;
    } catch (const kiln::parser::ParseError& e) {
        std::cerr << e.render() << std::endl;
        return 1;
    } catch (const kiln::Error& e) {
        std::cerr << "kiln: " << e.what() << std::endl;
        return 125;
    } catch (const std::exception& e) {
        std::cerr << "kiln: internal error: " << e.what() << std::endl;
        return 125;
    }
    return exit_code;
}
