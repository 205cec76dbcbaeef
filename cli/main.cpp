#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/container_aliases.hpp"
#include "parser/parse.hpp"
#include "util/error.hpp"

namespace {

std::string default_root() {
    const char* env = std::getenv("KILN_ROOT");
    return env && *env ? env : "/var/lib/kiln";
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
    // Each command group adds its subcommands here.
    kiln::cli::register_parse_commands(app, global, exit_code);
    kiln::cli::register_lint_commands(app, global, exit_code);
    kiln::cli::register_build_commands(app, global, exit_code);
    kiln::cli::register_container_commands(app, global, exit_code);
    kiln::cli::register_ps_commands(app, global);
    kiln::cli::register_exec_commands(app, global, exit_code);
    kiln::cli::register_attach_commands(app, global, exit_code);
    kiln::cli::register_pause_commands(app, global, exit_code);
    kiln::cli::register_rename_commands(app, global, exit_code);
    kiln::cli::register_port_commands(app, global, exit_code);
    kiln::cli::register_top_commands(app, global, exit_code);
    kiln::cli::register_stats_commands(app, global, exit_code);
    app.add_subcommand("container", "Manage containers")->require_subcommand(1)->footer(
        kiln::cli::container_alias_help());
    kiln::cli::register_container_ops_commands(app, global, exit_code);
    kiln::cli::register_container_inspect_commands(app, global, exit_code);
    kiln::cli::register_image_commands(app, global, exit_code);
    kiln::cli::register_archive_commands(app, global, exit_code);
    kiln::cli::register_cp_commands(app, global, exit_code);
    kiln::cli::register_commit_commands(app, global, exit_code);
    kiln::cli::register_inspect_commands(app, global, exit_code);
    kiln::cli::register_cache_commands(app, global, exit_code);
    kiln::cli::register_pull_commands(app, global, exit_code);
    kiln::cli::register_registry_commands(app, global, exit_code);
    kiln::cli::register_push_commands(app, global, exit_code);
    kiln::cli::register_volume_commands(app, global, exit_code);
    kiln::cli::register_network_commands(app, global, exit_code);

    // `kiln container ls` and the other management-command names (cli/container_aliases.hpp).
    auto args = kiln::cli::resolve_container_alias({argv + 1, argv + argc});
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
