// `kiln commit`: a container's changes as a new image (builder/commit.hpp).
#include <iostream>

#include "builder/commit.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "util/error.hpp"

namespace kiln::cli {

void register_commit_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        builder::CommitOptions options;
        std::string container;
    };
    auto flags = std::make_shared<Flags>();
    auto& o = flags->options;
    auto* cmd = app.add_subcommand("commit", "Create a new image from a container's changes");
    repeatable(cmd->add_option("-c,--change", o.changes, "Apply Dockerfile instruction to the created image"));
    cmd->add_option("-m,--message", o.message, "Commit message");
    cmd->add_option("-a,--author", o.author, "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")");
    cmd->add_option("-p,--pause", o.pause, "Pause container during commit")
        ->expected(0, 1)
        ->default_val(true)
        ->transform([](std::string value) { return value.starts_with('=') ? value.substr(1) : value; });
    cmd->add_option("container", flags->container, "Container")->required();
    cmd->add_option("repository", o.reference, "REPOSITORY[:TAG]");
    cmd->callback([flags, &global, &exit_code] {
        image::Store store(global.root);
        runtime::ContainerRecords records(store);
        runtime::ContainerRow row;
        try {
            row = records.resolve(flags->container);
        } catch (const Error& e) {
            std::cerr << "Error response from daemon: " << e.what() << "\n";
            exit_code = 1;
            return;
        }
        try {
            std::cout << builder::commit_container(store, row, flags->options).str() << "\n";
        } catch (const Error& e) {
            std::cerr << "Error: " << e.what() << "\n";
            exit_code = 1;
        }
    });
}

}  // namespace kiln::cli
