#include <iostream>

#include "builder/run_image.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

// The flags `run` and `create` share, as docker's do.
struct CreateFlags {
    builder::RunOptions options;
    std::string entrypoint, workdir, user, hostname, pull = "missing";
    int stop_timeout = 0;
    CLI::Option *workdir_opt = nullptr, *user_opt = nullptr, *hostname_opt = nullptr, *entrypoint_opt = nullptr,
                *stop_timeout_opt = nullptr;

    // The options with IMAGE [COMMAND] from what follows the flags.
    builder::RunOptions parse(const std::vector<std::string>& rest, const char* command) const {
        auto o = options;
        if (rest.empty())
            throw Error(std::string("\"kiln ") + command + "\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
        o.image = rest.front();
        o.command.assign(rest.begin() + 1, rest.end());
        if (workdir_opt->count()) o.workdir = workdir;
        if (user_opt->count()) o.user = user;
        if (hostname_opt->count()) o.hostname = hostname;
        if (entrypoint_opt->count()) o.entrypoint = entrypoint;
        if (stop_timeout_opt->count()) o.stop_timeout = stop_timeout;
        o.pull = builder::parse_pull_policy(pull);
        return o;
    }
};

// `kiln start -a [-i]` (or -i alone, as docker): one container, attached from before its
// command runs, so none of its output is missed; returns its exit code.
int start_attached(image::Store& store, const std::string& name, std::size_t count, bool interactive,
                   AttachChoice choice) {
    try {
        if (count > 1) throw Error("you cannot start and attach multiple containers at once");
        runtime::ContainerRecords records(store);
        auto row = records.refresh(records.resolve(name));
        choice.stdin = interactive;
        check_attach_choice(store, row.id, choice);
        if (row.state == "running") return attach_to_container(store, row.id, {}, choice);
        UniqueFd connection;
        if (int failure = builder::start_detached(store, row.id, &connection)) return failure;
        return attach_to_container(store, row.id, std::move(connection), choice);
    } catch (const Error& e) {
        std::cerr << "kiln: " << e.what() << std::endl;
        return 1;
    }
}

std::shared_ptr<CreateFlags> add_create_flags(CLI::App* cmd) {
    auto flags = std::make_shared<CreateFlags>();
    // Everything after IMAGE belongs to the container's command, flags included.
    cmd->prefix_command();
    // -h is --hostname, as in docker.
    cmd->set_help_flag("--help", "Print this help message and exit");
    auto& o = flags->options;
    cmd->add_option("--name", o.name, "Assign a name to the container");
    cmd->add_flag("--rm", o.auto_remove, "Remove the container when it exits");
    cmd->add_flag("-i,--interactive", o.interactive, "Keep STDIN open");
    cmd->add_flag("--privileged", o.privileged,
                  "Every capability, no seccomp filter, every device, /sys writable (trusted images only)");
    cmd->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
    cmd->add_option("-m,--memory", o.memory, "Memory limit (e.g. 512m, 1g)");
    cmd->add_option("--pids-limit", o.pids_limit, "Limit the number of processes (-1 or 0: no limit)");
    cmd->add_option("--cpus", o.cpus, "Number of CPUs (e.g. 1.5)");
    cmd->add_option("--memory-swap", o.memory_swap, "Memory plus swap limit (-1: unlimited swap)");
    cmd->add_option("--memory-reservation", o.memory_reservation, "Memory soft limit");
    cmd->add_option("-c,--cpu-shares", o.cpu_shares, "CPU shares (relative weight, 1024 by default)");
    cmd->add_option("--cpuset-cpus", o.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
    repeatable(cmd->add_option("-e,--env", o.env, "Set an environment variable (K=V, or K to pass it on)"));
    repeatable(cmd->add_option("-l,--label", o.labels, "Set a label (K=V)"));
    cmd->add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
    flags->stop_timeout_opt = cmd->add_option("--stop-timeout", flags->stop_timeout, "Seconds to wait before killing it on stop");
    flags->workdir_opt = cmd->add_option("-w,--workdir", flags->workdir, "Working directory inside the container");
    flags->user_opt = cmd->add_option("-u,--user", flags->user, "User name or UID[:GID]");
    flags->hostname_opt = cmd->add_option("-h,--hostname", flags->hostname, "Container host name");
    flags->entrypoint_opt = cmd->add_option("--entrypoint", flags->entrypoint, "Override the image's ENTRYPOINT");
    repeatable(cmd->add_option("-v,--volume", o.volumes, "Bind mount or volume [HOST-DIR|NAME:]CONTAINER-DIR[:OPTIONS]"));
    repeatable(cmd->add_option("--mount", o.mounts, "Attach a mount (type=bind|volume|tmpfs,source=…,target=…,…)"));
    repeatable(cmd->add_option("--volumes-from", o.volumes_from, "Mount the volumes of a container (CONTAINER[:ro|rw])"));
    repeatable(cmd->add_option("--security-opt", o.security_opts, "seccomp=unconfined|PROFILE.json, no-new-privileges"));
    cmd->add_option("--pull", flags->pull, "Pull image before running (always, missing, never)");
    repeatable(cmd->add_option("--env-file", o.env_files, "Read in a file of environment variables"));
    cmd->add_option("--cidfile", o.cidfile, "Write the container ID to the file");
    repeatable(cmd->add_option("--cap-add", o.cap_add, "Add Linux capabilities (NAME or ALL)"));
    repeatable(cmd->add_option("--cap-drop", o.cap_drop, "Drop Linux capabilities (NAME or ALL)"));
    cmd->add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
    repeatable(cmd->add_option("--tmpfs", o.tmpfs, "Mount a tmpfs directory (PATH[:OPTIONS])"));
    cmd->add_option("--shm-size", o.shm_size, "Size of /dev/shm (default 64m)");
    repeatable(cmd->add_option("--ulimit", o.ulimits, "Ulimit options (TYPE=SOFT[:HARD])"));
    repeatable(cmd->add_option("--device", o.devices, "Add a host device to the container (HOST[:CONTAINER[:PERMS]])"));
    cmd->add_flag("--init", o.init, "Run an init inside the container that forwards signals and reaps processes");
    cmd->add_option("--network,--net", o.network, "Connect the container to a network (bridge, none, host, container:NAME|ID, or a network NAME|ID)");
    repeatable(cmd->add_option("--network-alias,--net-alias", o.network_aliases, "Add a network-scoped alias for the container"));
    cmd->add_option("--ip", o.ip, "IPv4 address on the bridge (inside its subnet, free)");
    cmd->add_option("--mac-address", o.mac_address, "Container MAC address (e.g. 02:42:ac:1e:00:09)");
    repeatable(cmd->add_option("--dns", o.dns, "Set custom DNS servers"));
    repeatable(cmd->add_option("--dns-search", o.dns_search, "Set custom DNS search domains"));
    repeatable(cmd->add_option("--dns-option", o.dns_options, "Set DNS options"));
    repeatable(cmd->add_option("--add-host", o.add_hosts, "Add a custom host-to-IP mapping (HOST:IP, IP may be host-gateway)"));
    repeatable(cmd->add_option("-p,--publish", o.publish, "Publish a container's port to the host ([IP:][HOST:]CONTAINER[/PROTO])"));
    cmd->add_flag("-P,--publish-all", o.publish_all, "Publish every exposed port to a free host port");
    cmd->add_option("--restart", o.restart, "Restart policy when the container exits (no, on-failure[:N], always, unless-stopped)");
    return flags;
}

}  // namespace

void register_container_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto* run = app.add_subcommand("run", "Create and run a new container from an image");
    auto run_flags = add_create_flags(run);
    run->add_flag("-d,--detach", run_flags->options.detach, "Run in the background and print the container ID");
    run->callback([run_flags, run, &global, &exit_code] {
        auto options = run_flags->parse(run->remaining(), "run");
        runtime::sweep_stale_runtime_dirs();  // before the store sweeps their snapshots
        image::Store store(global.root);
        options.puller = image_puller(global, store, std::cerr, true);
        auto result = builder::run_image(store, options);
        if (options.detach && result.exit_code == 0) std::cout << result.id << std::endl;
        exit_code = result.exit_code;
    });

    auto* create = app.add_subcommand("create", "Create a new container");
    auto create_flags = add_create_flags(create);
    create->callback([create_flags, create, &global] {
        auto options = create_flags->parse(create->remaining(), "create");
        image::Store store(global.root);
        options.puller = image_puller(global, store, std::cerr, true);
        std::cout << builder::create_container(store, options) << std::endl;
    });

    // Run by a detached container's monitor to apply --restart; not for people.
    struct Restart {
        std::string id;
        int restarts = 0, lock_fd = -1;
        std::int64_t delay_ms = 0;
    };
    auto r = std::make_shared<Restart>();
    auto* restart = app.add_subcommand("container-restart", "")->group("");
    restart->add_option("ID", r->id)->required();
    restart->add_option("COUNT", r->restarts)->required();
    restart->add_option("DELAY", r->delay_ms)->required();
    restart->add_option("LOCKFD", r->lock_fd)->required();
    restart->callback([r, &global] {
        image::Store store(global.root);
        builder::restart_from_monitor(store, r->id, r->restarts, r->delay_ms, r->lock_fd);
    });

    auto names = std::make_shared<std::vector<std::string>>();
    struct StartAttach {
        bool attach = false, interactive = false;
        AttachChoice choice;
    };
    auto sa = std::make_shared<StartAttach>();
    auto* start = app.add_subcommand("start", "Start one or more stopped containers");
    start->add_option("CONTAINER", *names, "Containers")->required();
    start->add_flag("-a,--attach", sa->attach, "Attach STDOUT/STDERR and forward signals");
    start->add_flag("-i,--interactive", sa->interactive, "Attach container's STDIN");
    start->add_option("--detach-keys", sa->choice.detach_keys, "Override the key sequence for detaching a container");
    start->callback([names, sa, &global, &exit_code] {
        image::Store store(global.root);
        if (sa->attach || sa->interactive) {
            exit_code = start_attached(store, names->front(), names->size(), sa->interactive, sa->choice);
            return;
        }
        for (const auto& name : *names) {
            try {
                int code = builder::start_detached(store, name);
                if (code != 0) {
                    exit_code = code;
                    continue;
                }
                std::cout << name << std::endl;
            } catch (const Error& e) {
                std::cerr << "kiln: " << e.what() << std::endl;
                exit_code = 1;
            }
        }
    });
}

}  // namespace kiln::cli
