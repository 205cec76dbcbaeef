// `kiln port CONTAINER [PRIVATE_PORT[/PROTO]]`: a running container's published ports, as
// the docker CLI prints them (runtime/port_bindings.hpp).
#include <iostream>

#include "cli/commands.hpp"
#include "runtime/container_records.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/port_bindings.hpp"

namespace kiln::cli {

void register_port_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto args = std::make_shared<std::pair<std::string, std::string>>();
    auto* cmd = app.add_subcommand("port", "List port mappings or a specific mapping for the container");
    cmd->add_option("CONTAINER", args->first, "Container")->required();
    cmd->add_option("PRIVATE_PORT", args->second, "PRIVATE_PORT[/PROTO]");
    cmd->callback([args, &global, &exit_code] {
        for_each_container(global, {args->first}, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            auto row = records.resolve(name);
            // Docker's NetworkSettings.Ports: the bindings in force (with the host ports
            // chosen at start), none while stopped.
            runtime::PortMap ports;
            if (row.state == "running") ports = runtime::published_ports(row.id);
            if (row.state == "running" && ports.empty()) ports = records.config(row).port_bindings;
            for (const auto& line : runtime::port_lines(ports, args->second, name)) std::cout << line << "\n";
            std::cout << std::flush;
        });
    });
}

}  // namespace kiln::cli
