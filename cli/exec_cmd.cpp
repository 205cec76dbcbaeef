// `kiln exec`: a command in a running container (runtime/exec.hpp). Like docker, a
// container that is missing or not running is a one-line error with exit 1; kiln's own
// failures (flags, setup) exit 125; otherwise the command's status.
#include <iostream>

#include "builder/exec_container.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/container_control.hpp"
#include "runtime/container_records.hpp"
#include "runtime/freezer.hpp"
#include "util/error.hpp"

namespace kiln::cli {

void register_exec_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        builder::ExecOptions options;
        std::string user, workdir;
        CLI::Option *user_opt = nullptr, *workdir_opt = nullptr;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("exec", "Execute a command in a running container");
    // Everything after CONTAINER belongs to the command, flags included.
    cmd->prefix_command();
    auto& o = f->options;
    cmd->add_flag("-i,--interactive", o.interactive, "Keep STDIN open");
    cmd->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
    cmd->add_flag("-d,--detach", o.detach, "Detached mode: run the command in the background");
    repeatable(cmd->add_option("-e,--env", o.env, "Set an environment variable (K=V, or K to pass it on)"));
    f->user_opt = cmd->add_option("-u,--user", f->user, "User name or UID[:GID]");
    f->workdir_opt = cmd->add_option("-w,--workdir", f->workdir, "Working directory inside the container");
    cmd->callback([f, cmd, &global, &exit_code] {
        auto rest = cmd->remaining();
        if (rest.size() < 2)
            throw Error("\"kiln exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
        // Flags before CONTAINER that CLI11 did not know end up here (prefix_command).
        if (rest.front().starts_with('-')) throw Error("unknown flag: " + rest.front());
        auto options = f->options;
        options.command.assign(rest.begin() + 1, rest.end());
        if (f->user_opt->count()) options.user = f->user;
        if (f->workdir_opt->count()) options.workdir = f->workdir;

        image::Store store(global.root);
        runtime::ContainerRecords records(store);
        runtime::ContainerRow row;
        UniqueFd init;
        try {
            row = records.resolve(rest.front());
            init = runtime::open_container_init(row);
            if (!init) throw Error("container " + row.id + " is not running");
            // Joining a frozen group would freeze the new process before it could exec.
            if (runtime::container_paused(row.id))
                throw Error("Container " + row.id + " is paused, unpause the container before exec");
        } catch (const Error& e) {
            std::cerr << "kiln: " << e.what() << std::endl;
            exit_code = 1;
            return;
        }
        auto spec = builder::exec_spec(records.config(row), options);
        spec.init_pidfd = init.get();
        spec.init_pid = static_cast<pid_t>(row.pid);
        std::cout.flush();
        exit_code = runtime::exec_in_container(spec);
    });
}

}  // namespace kiln::cli
