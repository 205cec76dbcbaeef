// `kiln rename OLD NEW`, with the docker CLI's and daemon's checks and wording.
#include <iostream>

#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

std::string trim_space(const std::string& s) {
    auto first = s.find_first_not_of(" \t\n\r");
    if (first == std::string::npos) return "";
    return s.substr(first, s.find_last_not_of(" \t\n\r") - first + 1);
}

}  // namespace

void register_rename_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto names = std::make_shared<std::pair<std::string, std::string>>();
    auto* cmd = app.add_subcommand("rename", "Rename a container");
    cmd->add_option("CONTAINER", names->first, "Container")->required();
    cmd->add_option("NEW_NAME", names->second, "Its new name")->required();
    cmd->callback([names, &global, &exit_code] {
        const std::string old_name = trim_space(names->first), new_name = trim_space(names->second);
        if (old_name.empty() || new_name.empty()) {
            std::cerr << "kiln: Error: Neither old nor new names may be empty" << std::endl;
            exit_code = 1;
            return;
        }
        for_each_container(global, {old_name}, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            records.rename(records.resolve(name), new_name);
        });
    });
}

}  // namespace kiln::cli
