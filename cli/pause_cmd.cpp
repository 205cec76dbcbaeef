// `kiln pause` / `unpause`: the cgroup freezer (runtime/freezer.hpp) with docker's checks
// and errors, several containers at a time.
#include <iostream>

#include "cli/commands.hpp"
#include "runtime/container_records.hpp"
#include "runtime/freezer.hpp"
#include "runtime/restart_policy.hpp"
#include "util/error.hpp"

namespace kiln::cli {

void register_pause_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    for (bool pause : {true, false}) {
        auto names = std::make_shared<std::vector<std::string>>();
        auto* cmd = app.add_subcommand(pause ? "pause" : "unpause", pause ? "Pause all processes within one or more containers"
                                                                          : "Unpause all processes within one or more containers");
        cmd->add_option("CONTAINER", *names, "Containers")->required();
        cmd->callback([names, pause, &global, &exit_code] {
            for_each_container(global, *names, exit_code, [&](image::Store&, auto& records, const std::string& name) {
                auto row = records.resolve(name);
                auto freezer = runtime::container_freezer(row.id);
                if (row.state != "running" || freezer.dir.empty()) throw Error("Container " + row.id + " is not running");
                if (runtime::container_restarting(row.id))
                    throw Error("Container " + row.id + " is restarting, wait until the container is running");
                const bool frozen = runtime::freezer_frozen(freezer);
                if (pause && frozen) throw Error("Container " + row.id + " is already paused");
                if (!pause && !frozen) throw Error("Container " + row.id + " is not paused");
                runtime::freezer_set(freezer, pause);
                std::cout << name << std::endl;
            });
        });
    }
}

}  // namespace kiln::cli
