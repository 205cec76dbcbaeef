#include <iostream>

#include "builder/build.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "parser/parse.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"

namespace kiln::cli {

void register_build_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        builder::BuildOptions options;
        std::vector<std::string> build_args;
        std::vector<std::string> allow;
        std::string pull = "missing";
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile");
    repeatable(cmd->add_option("-t,--tag", flags->options.tags, "Name and optionally a tag (name:tag)"));
    cmd->add_option("-f,--file", flags->options.dockerfile, "Dockerfile (default: CONTEXT/Dockerfile)");
    repeatable(cmd->add_option("--build-arg", flags->build_args, "Build-time variable (NAME=VALUE or NAME)"));
    cmd->add_option("--target", flags->options.target, "Stage to build");
    repeatable(cmd->add_option("--allow", flags->allow,
                               "Grant an entitlement: network.host (RUN --network=host), security.insecure"));
    cmd->add_flag("--no-cache", flags->options.no_cache, "Do not use the build cache");
    // `--pull` alone is docker build's "always"; buildx also takes a policy.
    cmd->add_flag("--pull{always}", flags->pull, "Pull images FROM names: always (--pull alone), missing, never");
    cmd->add_flag("-q,--quiet", flags->options.quiet, "Print only the image ID");
    cmd->add_option("context", flags->options.context_dir, "Build context directory")->required();
    cmd->callback([flags, &global, &exit_code] {
        auto& options = flags->options;
        for (const auto& entitlement : flags->allow) {
            if (entitlement == "network.host")
                options.allow_network_host = true;
            else if (entitlement == "security.insecure")
                options.allow_security_insecure = true;
            else
                throw Error("invalid entitlement \"" + entitlement + "\" for --allow (network.host or security.insecure)");
        }
        for (const auto& arg : flags->build_args) {
            auto eq = arg.find('=');
            if (eq == 0) throw Error("invalid --build-arg \"" + arg + "\": empty name");
            if (eq == std::string::npos) {
                // docker: --build-arg NAME takes the value from the environment, if set.
                if (const char* value = std::getenv(arg.c_str())) options.build_args[arg] = value;
                continue;
            }
            options.build_args[arg.substr(0, eq)] = arg.substr(eq + 1);
        }
        options.pull = builder::parse_pull_policy(flags->pull);
        runtime::sweep_stale_runtime_dirs();  // before the store sweeps their snapshots
        image::Store store(global.root);
        options.puller = image_puller(global, store, std::cout, false);
        builder::BuildResult result;
        try {
            result = builder::build(store, options, std::cout);
        } catch (const parser::ParseError&) {
            throw;  // main prints it with the source line and a caret
        } catch (const Error& e) {
            // docker build exits 1 when the build itself fails.
            std::cout.flush();
            std::cerr << "ERROR: failed to build: " << e.what() << std::endl;
            exit_code = 1;
            return;
        }
        if (options.quiet) {
            std::cout << result.image_id.str() << "\n";
        } else {
            std::cout << "Successfully built " << result.image_id.short_hex() << " ("
                      << result.cached_steps << " of " << result.steps << " steps cached)\n";
            for (const auto& tag : options.tags) std::cout << "Successfully tagged " << tag << "\n";
        }
        exit_code = 0;
    });
}

}  // namespace kiln::cli
