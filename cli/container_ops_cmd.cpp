// The lifecycle commands on recorded containers: stop, kill, rm, wait, restart, logs,
// container prune. Like the docker CLI, each takes several containers, reports a failing
// one on stderr and carries on, and exits 1 if any failed.
#include <signal.h>

#include <iostream>

#include "builder/run_image.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/container_config.hpp"
#include "runtime/container_control.hpp"
#include "runtime/container_logs.hpp"
#include "runtime/container_records.hpp"
#include "runtime/restart_policy.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"

namespace kiln::cli {

namespace {

constexpr int docker_stop_timeout = 10;

int stop_timeout(const runtime::ContainerConfig& config, const CLI::Option* given, int value) {
    if (given->count()) return value;
    return config.stop_timeout ? *config.stop_timeout : docker_stop_timeout;
}

// Ends a restart policy's restarting for good, then returns the row as it is now (the
// monitor may have started the container again since row was read; one started after
// this kills itself on seeing the marker).
runtime::ContainerRow forbid_restart(runtime::ContainerRecords& records, const runtime::ContainerRow& row) {
    runtime::forbid_restart(row.id);
    return records.resolve(row.id);
}

void stop(runtime::ContainerRecords& records, runtime::ContainerRow row, const std::string& signal,
          const CLI::Option* timeout_given, int timeout) {
    row = forbid_restart(records, row);
    auto config = records.config(row);
    int sig = runtime::parse_signal(signal.empty() ? config.stop_signal : signal);
    runtime::stop_container(row, sig, stop_timeout(config, timeout_given, timeout));
    records.refresh(row);
}

// Docker's kill (daemon/kill.go): SIGKILL, or the container's stop signal, is a manual
// stop that its restart policy does not undo; so is any signal when no stop signal was
// chosen, which kiln records as the default SIGTERM. Another signal (a SIGHUP to reload)
// leaves the policy alone.
bool kill_ends_restarting(const runtime::ContainerConfig& config, int sig) {
    const int stop_sig = runtime::parse_signal(config.stop_signal);
    return sig == SIGKILL || sig == stop_sig || stop_sig == SIGTERM;
}

struct Targets {
    std::vector<std::string> names;
    std::string signal;
    int timeout = docker_stop_timeout;
    bool force = false;
};

void register_stop_and_restart(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    for (bool restart : {false, true}) {
        auto t = std::make_shared<Targets>();
        auto* cmd = app.add_subcommand(restart ? "restart" : "stop",
                                       restart ? "Restart one or more containers" : "Stop one or more running containers");
        cmd->add_option("CONTAINER", t->names, "Containers")->required();
        cmd->add_option("-s,--signal", t->signal, "Signal to send to the container");
        auto* timeout = cmd->add_option("-t,--timeout", t->timeout, "Seconds to wait before killing the container");
        cmd->callback([t, timeout, restart, &global, &exit_code] {
            for_each_container(global, t->names, exit_code, [&](image::Store& store, auto& records, const std::string& name) {
                auto row = records.resolve(name);
                stop(records, row, t->signal, timeout, t->timeout);
                if (restart) {
                    int code = builder::start_detached(store, row.id);
                    if (code) exit_code = code;
                }
                std::cout << name << std::endl;
            });
        });
    }
}

void register_kill(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto t = std::make_shared<Targets>();
    auto* cmd = app.add_subcommand("kill", "Kill one or more running containers");
    cmd->add_option("CONTAINER", t->names, "Containers")->required();
    cmd->add_option("-s,--signal", t->signal, "Signal to send to the container")->default_val("KILL");
    cmd->callback([t, &global, &exit_code] {
        int sig = runtime::parse_signal(t->signal);
        for_each_container(global, t->names, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            auto row = records.resolve(name);
            if (kill_ends_restarting(records.config(row), sig)) row = forbid_restart(records, row);
            if (!runtime::signal_container(row, sig)) throw Error("Cannot kill container: " + name + ": container " + row.id + " is not running");
            std::cout << name << std::endl;
        });
    });
}

void register_rm(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto t = std::make_shared<Targets>();
    auto* cmd = app.add_subcommand("rm", "Remove one or more containers");
    cmd->add_option("CONTAINER", t->names, "Containers")->required();
    cmd->add_flag("-f,--force", t->force, "Force the removal of a running container (uses SIGKILL)");
    auto volumes = std::make_shared<bool>(false);
    cmd->add_flag("-v,--volumes", *volumes, "Remove the anonymous volumes associated with the container");
    cmd->callback([t, volumes, &global, &exit_code] {
        for_each_container(global, t->names, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            auto row = records.resolve(name);
            if (row.state == "running") {
                if (!t->force)
                    throw Error("cannot remove container \"/" + row.name +
                                "\": container is running: stop the container before removing or force remove");
                row = forbid_restart(records, row);
                runtime::stop_container(row, SIGKILL, -1);
                row = records.refresh(row);
            }
            records.remove(row, *volumes);
            std::cout << name << std::endl;
        });
    });
}

void register_wait(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto t = std::make_shared<Targets>();
    auto* cmd = app.add_subcommand("wait", "Block until one or more containers stop, then print their exit codes");
    cmd->add_option("CONTAINER", t->names, "Containers")->required();
    cmd->callback([t, &global, &exit_code] {
        for_each_container(global, t->names, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            auto row = records.resolve(name);
            if (row.state == "running") runtime::wait_runtime_dir_unlocked(row.id);
            std::cout << records.refresh(row).exit_code << std::endl;
        });
    });
}

void register_logs(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string name, since, until, tail = "all";
        runtime::LogOptions options;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("logs", "Fetch the logs of a container");
    cmd->add_option("CONTAINER", f->name, "Container")->required();
    cmd->add_flag("-f,--follow", f->options.follow, "Follow log output");
    cmd->add_flag("-t,--timestamps", f->options.timestamps, "Show timestamps");
    cmd->add_option("-n,--tail", f->tail, "Number of lines to show from the end of the logs (or \"all\")");
    cmd->add_option("--since", f->since, "Show logs since a timestamp or relative (e.g. 42m)");
    cmd->add_option("--until", f->until, "Show logs before a timestamp or relative (e.g. 42m)");
    cmd->callback([f, &global, &exit_code] {
        auto options = f->options;
        const auto now = runtime::unix_now_ns();
        if (!f->since.empty()) options.since_ns = runtime::parse_log_time(f->since, now);
        if (!f->until.empty()) options.until_ns = runtime::parse_log_time(f->until, now);
        if (f->tail != "all") {
            try {
                long n = std::stol(f->tail);
                if (n >= 0) options.tail = static_cast<std::size_t>(n);
            } catch (const std::exception&) {
                throw Error("invalid value for --tail: " + f->tail);
            }
        }
        for_each_container(global, {f->name}, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            auto row = records.resolve(name);
            std::cout.flush();
            runtime::read_container_log(records.paths(row.id).log, options, 1, 2,
                                        [&] { return runtime::runtime_dir_locked(row.id); });
        });
    });
}

void register_prune(CLI::App& app, const GlobalOptions& global) {
    auto* container = app.get_subcommand("container");
    auto force = std::make_shared<bool>(false);
    auto* cmd = container->add_subcommand("prune", "Remove all stopped containers");
    cmd->add_flag("-f,--force", *force, "Do not prompt for confirmation");
    cmd->callback([force, &global] {
        image::Store store(global.root);
        runtime::ContainerRecords records(store);
        std::cout << "Deleted Containers:\n";
        for (const auto& row : records.list()) {
            if (row.state == "running") continue;
            records.remove(row);
            std::cout << row.id << "\n";
        }
        std::cout << "\nTotal reclaimed space: 0B" << std::endl;
    });
}

}  // namespace

void for_each_container(const GlobalOptions& global, const std::vector<std::string>& names, int& exit_code,
                        const ContainerAction& action) {
    image::Store store(global.root);
    runtime::ContainerRecords records(store);
    for (const auto& name : names) {
        try {
            action(store, records, name);
        } catch (const Error& e) {
            std::cerr << "kiln: " << e.what() << std::endl;
            exit_code = 1;
        }
    }
}

void register_container_ops_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    register_stop_and_restart(app, global, exit_code);
    register_kill(app, global, exit_code);
    register_rm(app, global, exit_code);
    register_wait(app, global, exit_code);
    register_logs(app, global, exit_code);
    register_prune(app, global);
}

}  // namespace kiln::cli
