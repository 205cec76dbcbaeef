#include "builder/run_image.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"

namespace kiln::cli {

void register_container_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        builder::RunOptions options;
        std::string entrypoint, workdir, user, hostname;
    };
    auto flags = std::make_shared<Flags>();
    auto* run = app.add_subcommand("run", "Run a command in a new container");
    // Everything after IMAGE belongs to the container's command, flags included.
    run->prefix_command();
    // -h is --hostname, as in docker.
    run->set_help_flag("--help", "Print this help message and exit");
    auto& o = flags->options;
    // Containers are not kept after they exit yet, so --rm is what always happens; it is
    // accepted so `alias docker=kiln` scripts keep working.
    run->add_flag("--rm")->description("Remove the container when it exits (always, for now)");
    run->add_flag("-i,--interactive", o.interactive, "Keep STDIN open");
    run->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
    run->add_option("-m,--memory", o.memory, "Memory limit (e.g. 512m, 1g)");
    run->add_option("--pids-limit", o.pids_limit, "Limit the number of processes (-1 or 0: no limit)");
    run->add_option("--cpus", o.cpus, "Number of CPUs (e.g. 1.5)");
    repeatable(run->add_option("-e,--env", o.env, "Set an environment variable (K=V, or K to pass it on)"));
    auto* workdir = run->add_option("-w,--workdir", flags->workdir, "Working directory inside the container");
    auto* user = run->add_option("-u,--user", flags->user, "User name or UID[:GID]");
    auto* hostname = run->add_option("-h,--hostname", flags->hostname, "Container host name");
    auto* entrypoint = run->add_option("--entrypoint", flags->entrypoint, "Override the image's ENTRYPOINT");
    repeatable(run->add_option("-v,--volume", o.volumes, "Bind mount HOST:CONTAINER[:ro]"));
    repeatable(run->add_option("--security-opt", o.security_opts, "seccomp=unconfined|PROFILE.json, no-new-privileges"));
    run->callback([flags, run, workdir, user, hostname, entrypoint, &global, &exit_code] {
        auto options = flags->options;
        auto rest = run->remaining();
        if (rest.empty()) throw Error("\"kiln run\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
        options.image = rest.front();
        options.command.assign(rest.begin() + 1, rest.end());
        if (workdir->count()) options.workdir = flags->workdir;
        if (user->count()) options.user = flags->user;
        if (hostname->count()) options.hostname = flags->hostname;
        if (entrypoint->count()) options.entrypoint = flags->entrypoint;
        runtime::sweep_stale_runtime_dirs();  // before the store sweeps their snapshots
        image::Store store(global.root);
        exit_code = builder::run_image(store, options);
    });
}

}  // namespace kiln::cli
