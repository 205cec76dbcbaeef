#include <iostream>

#include "builder/build.hpp"
#include "cli/commands.hpp"
#include "builder/registry_cache.hpp"
#include "cli/push_cmd.hpp"
#include "registry/session.hpp"
#include "image/store.hpp"
#include "parser/parse.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

// --output as buildx reads it, for the one exporter that concerns a build here: the image,
// pushed (`type=registry`, or `type=image,push=true`); name= adds names to -t's.
bool output_pushes(const std::string& output, std::vector<std::string>& tags) {
    std::string type;
    bool push = false;
    std::size_t start = 0;
    while (start <= output.size()) {
        std::size_t comma = output.find(',', start);
        std::string field = output.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? output.size() + 1 : comma + 1;
        auto eq = field.find('=');
        std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (key == "type")
            type = value;
        else if (key == "push")
            push = value == "true";
        else if (key == "name")
            tags.push_back(value);
        else
            throw Error("unknown --output key \"" + key + "\" in \"" + output + "\"");
    }
    if (type == "registry") return true;
    if (type == "image") return push;
    throw Error("--output type=" + type + " is not supported (type=registry, or type=image[,push=true])");
}

}  // namespace

void register_build_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        builder::BuildOptions options;
        std::vector<std::string> build_args;
        std::vector<std::string> allow;
        std::string pull = "missing";
        std::string output;
        bool push = false;
        std::vector<std::string> cache_from, cache_to;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile");
    repeatable(cmd->add_option("-t,--tag", flags->options.tags, "Name and optionally a tag (name:tag)"));
    cmd->add_option("-f,--file", flags->options.dockerfile, "Dockerfile (default: CONTEXT/Dockerfile)");
    repeatable(cmd->add_option("--build-arg", flags->build_args, "Build-time variable (NAME=VALUE or NAME)"));
    cmd->add_option("--target", flags->options.target, "Stage to build");
    cmd->add_option("--platform", flags->options.platform,
                    "Target platform (only this machine's, e.g. linux/amd64: RUN executes natively)");
    repeatable(cmd->add_option("--allow", flags->allow,
                               "Grant an entitlement: network.host (RUN --network=host), security.insecure"));
    cmd->add_flag("--no-cache", flags->options.no_cache, "Do not use the build cache");
    // `--pull` alone is docker build's "always"; buildx also takes a policy.
    cmd->add_flag("--pull{always}", flags->pull, "Pull images FROM names: always (--pull alone), missing, never");
    cmd->add_flag("-q,--quiet", flags->options.quiet, "Print only the image ID");
    cmd->add_flag("--push", flags->push, "Push the image to its registry after the build (shorthand for --output=type=registry)");
    cmd->add_option("-o,--output", flags->output, "Output destination: type=registry (build, then push every -t name)");
    repeatable(cmd->add_option("--cache-from", flags->cache_from,
                               "Import the build cache from a registry (type=registry,ref=HOST/REPO:TAG, or a bare reference)"));
    repeatable(cmd->add_option("--cache-to", flags->cache_to,
                               "Export the build cache to a registry (type=registry,ref=HOST/REPO:TAG[,mode=min|max][,ignore-error=true])"));
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
        const bool push = flags->push || (!flags->output.empty() && output_pushes(flags->output, options.tags));
        if (push && options.tags.empty()) throw Error("tag is needed when pushing to registry");
        std::vector<builder::CacheSpec> cache_from, cache_to;
        for (const auto& text : flags->cache_from) cache_from.push_back(builder::parse_cache_spec(text, "--cache-from"));
        for (const auto& text : flags->cache_to) cache_to.push_back(builder::parse_cache_spec(text, "--cache-to"));
        runtime::sweep_stale_runtime_dirs();  // before the store sweeps their snapshots
        image::Store store(global.root);
        std::unique_ptr<registry::Session> session;
        if (!cache_from.empty() || !cache_to.empty()) session = registry::open_session(global.config_dir);
        // As BuildKit: a cache that cannot be read costs only the cache, not the build.
        for (const auto& spec : cache_from) try {
                options.cache_sources.push_back(builder::open_registry_cache(*session, spec, std::cerr));
            } catch (const Error& e) {
                std::cerr << "WARNING: importing build cache from " << spec.ref << ": " << e.what() << "\n";
            }
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
        for (const auto& spec : cache_to) try {
                auto exported = builder::export_registry_cache(*session, store, spec, result);
                if (!options.quiet)
                    std::cout << "exported build cache " << spec.ref << " (" << exported.steps << " steps, "
                              << exported.layers << " layers, " << exported.uploaded << " uploaded): "
                              << exported.manifest.str() << "\n";
            } catch (const Error& e) {
                std::cerr << (spec.ignore_error ? "WARNING" : "ERROR") << ": exporting build cache to " << spec.ref
                          << ": " << e.what() << std::endl;
                if (!spec.ignore_error) {
                    exit_code = 1;
                    return;
                }
            }
        if (push) {
            PushFlags push_flags;
            push_flags.quiet = options.quiet;
            for (const auto& tag : options.tags)
                if ((exit_code = push_named(global, store, tag, push_flags)) != 0) return;
        }
    });
}

}  // namespace kiln::cli
