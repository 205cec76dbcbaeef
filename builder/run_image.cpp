#include "builder/run_image.hpp"

#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/container_mounts.hpp"
#include "builder/flag_values.hpp"
#include "builder/image_config.hpp"
#include "builder/network_flags.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "runtime/attach_socket.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/cid_file.hpp"
#include "runtime/container.hpp"
#include "runtime/container_config.hpp"
#include "runtime/container_names.hpp"
#include "runtime/container_records.hpp"
#include "runtime/detach.hpp"
#include "runtime/device_mapping.hpp"
#include "runtime/env_file.hpp"
#include "runtime/kernel_version.hpp"
#include "runtime/restart_policy.hpp"
#include "runtime/runtime_dir.hpp"
#include "runtime/user.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/seccomp_json.hpp"
#include "runtime/tmpfs_mounts.hpp"
#include "runtime/ulimits.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::builder {

std::vector<std::string> container_args(const std::vector<std::string>& image_entrypoint,
                                        const std::vector<std::string>& image_cmd,
                                        const RunOptions& options) {
    std::vector<std::string> args;
    if (options.entrypoint) {
        if (!options.entrypoint->empty()) args.push_back(*options.entrypoint);
        // A new entrypoint drops the image's CMD, as in Docker.
        args.insert(args.end(), options.command.begin(), options.command.end());
        return args;
    }
    args = image_entrypoint;
    const auto& cmd = options.command.empty() ? image_cmd : options.command;
    args.insert(args.end(), cmd.begin(), cmd.end());
    return args;
}

namespace {

// The flags that become Docker's HostConfig settings of the process and its mounts,
// checked here so that a bad one is refused before anything is created.
void apply_host_flags(const RunOptions& o, runtime::ContainerConfig& c) {
    for (const auto& cap : o.cap_add) c.cap_add.push_back(runtime::normalize_capability(cap, "--cap-add"));
    for (const auto& cap : o.cap_drop) c.cap_drop.push_back(runtime::normalize_capability(cap, "--cap-drop"));
    c.readonly_rootfs = o.read_only;
    for (const auto& t : o.tmpfs) {
        auto [path, options] = runtime::split_tmpfs_flag(t);
        runtime::tmpfs_mount(path, options);
        c.tmpfs[path] = options;
    }
    if (!o.shm_size.empty()) {
        c.shm_size = parse_memory_size(o.shm_size, "--shm-size");
        if (c.shm_size <= 0) throw Error("invalid --shm-size " + o.shm_size + ": it must be greater than 0");
    }
    for (const auto& u : o.ulimits) {
        auto limit = runtime::parse_ulimit(u);
        std::erase_if(c.ulimits, [&](const runtime::Ulimit& x) { return x.name == limit.name; });
        c.ulimits.push_back(limit);
    }
    runtime::to_rlimits(c.ulimits);  // a hard limit above kiln's own is refused now
    for (const auto& d : o.devices) {
        c.devices.push_back(runtime::parse_device(d));
        runtime::grant_device(c.devices.back());
    }
    c.init = o.init;
    c.restart = runtime::parse_restart_policy(o.restart);
    if (c.restart.name != "no" && o.auto_remove) throw Error("Conflicting options: --restart and --rm");
}

}  // namespace

void check_user_spec(const std::string& user) {
    auto colon = user.find(':');
    std::string_view name = std::string_view(user).substr(0, colon);
    std::string_view group = colon == std::string::npos ? std::string_view() : std::string_view(user).substr(colon + 1);
    if (runtime::is_out_of_range_id(name) || runtime::is_out_of_range_id(group))
        throw Error("invalid user \"" + user + "\": uids and gids must be in range 0-" +
                    std::to_string(runtime::max_id));
}

void apply_env_flags(std::vector<std::string>& env, const std::vector<std::string>& flags) {
    for (const auto& e : flags) {
        std::string entry = e;
        if (e.find('=') == std::string::npos) {
            const char* value = std::getenv(e.c_str());
            if (!value) continue;  // docker drops -e NAME when NAME is unset
            entry = e + "=" + value;
        }
        std::string key = entry.substr(0, entry.find('='));
        std::erase_if(env, [&](const std::string& x) { return x == key || x.starts_with(key + "="); });
        env.push_back(entry);
    }
}

void apply_process_settings(const runtime::ContainerConfig& c, runtime::ContainerSpec& spec) {
    apply_security_opts(c.security_opts, spec);
    if (c.cap_add.empty() && c.cap_drop.empty()) {
        spec.rlimits = runtime::to_rlimits(c.ulimits);
        return;
    }
    static const runtime::CapMask held = runtime::all_capabilities(runtime::last_capability());
    spec.capabilities = runtime::tweak_capabilities(runtime::docker_default_capabilities(), c.cap_add, c.cap_drop, held);
    // Docker's default profile opens syscalls for some capabilities (CAP_SYS_ADMIN's mount,
    // ...): compiled for this set, as the daemon does. A profile file is compiled for it too.
    for (const auto& opt : c.security_opts)
        if (opt.starts_with("seccomp=") && opt != "seccomp=unconfined" && opt != "seccomp=builtin")
            spec.seccomp = std::make_shared<const std::vector<sock_filter>>(
                runtime::compile_seccomp(runtime::load_seccomp_profile(opt.substr(8)), *spec.capabilities));
    if (!spec.seccomp)
        spec.seccomp = std::make_shared<const std::vector<sock_filter>>(runtime::default_seccomp_program_for(*spec.capabilities));
    spec.rlimits = runtime::to_rlimits(c.ulimits);
}

void apply_security_opts(const std::vector<std::string>& opts, runtime::ContainerSpec& spec) {
    for (const auto& opt : opts) {
        auto invalid = [&](const std::string& why) { return Error("invalid --security-opt \"" + opt + "\": " + why); };
        auto eq = opt.find('=');
        std::string key = opt.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : opt.substr(eq + 1);
        if (eq == std::string::npos && opt != "no-new-privileges") {
            if (auto colon = opt.find(':'); colon != std::string::npos)
                throw invalid("the \":\" separator is deprecated in Docker and not accepted by kiln; write " +
                              opt.substr(0, colon) + "=" + opt.substr(colon + 1));
        }
        if (key == "no-new-privileges") {
            // kiln always sets no_new_privs; it cannot be turned off.
            if (eq == std::string::npos || value == "true" || value == "1") continue;
            throw invalid("kiln always runs containers with no-new-privileges");
        }
        if (key != "seccomp") throw invalid("kiln supports only seccomp=unconfined|builtin|PROFILE.json and no-new-privileges");
        if (value.empty()) throw invalid("give seccomp=unconfined or seccomp=PROFILE.json");
        if (value == "unconfined")
            spec.seccomp = std::make_shared<const std::vector<sock_filter>>();
        else if (value == "builtin")
            spec.seccomp = nullptr;
        else
            spec.seccomp = std::make_shared<const std::vector<sock_filter>>(runtime::compile_seccomp(
                runtime::load_seccomp_profile(value), runtime::docker_default_capabilities()));
    }
}

runtime::ContainerConfig container_config(image::Store& store, const RunOptions& options) {
    runtime::ContainerConfig c;
    runtime::ContainerSpec checked;
    apply_security_opts(options.security_opts, checked);
    c.security_opts = options.security_opts;
    if (!options.name.empty()) c.name = runtime::validate_container_name(options.name);
    std::optional<Digest> id = find_or_pull(store, options.image, options.pull, options.puller);
    auto image_json = nlohmann::json::parse(store.images().config(*id));
    auto config = ImageConfig::from_base(image_json);
    c.image = options.image;
    c.image_id = id->str();

    c.args = container_args(config.entrypoint(), config.cmd(), options);
    if (c.args.empty()) throw Error("no command specified");
    c.entrypoint = options.entrypoint ? (options.entrypoint->empty() ? std::vector<std::string>{}
                                                                      : std::vector<std::string>{*options.entrypoint})
                                      : config.entrypoint();
    c.cmd = options.command.empty() && !options.entrypoint ? config.cmd() : options.command;
    c.env = config.env();
    for (const auto& file : options.env_files) apply_env_flags(c.env, runtime::read_env_file(file));
    apply_env_flags(c.env, options.env);
    c.cwd = options.workdir ? *options.workdir : config.working_dir();
    if (!c.cwd.starts_with('/')) throw Error("the working directory '" + c.cwd + "' is invalid, it needs to be an absolute path");
    c.user = options.user ? *options.user : config.user();
    check_user_spec(c.user);
    c.id = runtime::generate_container_id();
    c.hostname = options.hostname ? *options.hostname : c.id.substr(0, 12);
    c.interactive = options.interactive;
    c.stdin_once = options.interactive && !options.detach;
    c.tty = options.tty;
    c.auto_remove = options.auto_remove;
    c.privileged = options.privileged;
    if (!options.memory.empty()) c.memory_limit = parse_memory_size(options.memory);
    if (!options.pids_limit.empty()) c.pids_limit = parse_pids_limit(options.pids_limit);
    if (!options.cpus.empty()) c.cpus = parse_cpus(options.cpus, std::thread::hardware_concurrency());
    if (!options.memory_swap.empty()) c.memory_swap = parse_memory_swap(options.memory_swap);
    if (!options.memory_reservation.empty())
        c.memory_reservation = parse_memory_size(options.memory_reservation, "--memory-reservation");
    if (!options.cpu_shares.empty()) c.cpu_shares = parse_cpu_shares(options.cpu_shares);
    if (!options.cpuset_cpus.empty())
        c.cpuset_cpus = parse_cpuset_cpus(options.cpuset_cpus, read_file("/sys/devices/system/cpu/online"));
    runtime::validate_limits({c.memory_limit, c.pids_limit, c.cpus, c.memory_swap, c.memory_reservation, c.cpu_shares,
                              c.cpuset_cpus});
    // What Docker records for --memory alone: as much swap again.
    if (c.memory_limit > 0 && c.memory_swap == 0) c.memory_swap = 2 * c.memory_limit;
    const auto& image_settings = image_json.contains("config") ? image_json["config"] : nlohmann::json::object();
    if (image_settings.contains("Labels") && image_settings["Labels"].is_object())
        for (const auto& [k, v] : image_settings["Labels"].items())
            if (v.is_string()) c.labels[k] = v.get<std::string>();
    for (const auto& label : options.labels) {
        auto eq = label.find('=');
        c.labels[label.substr(0, eq)] = eq == std::string::npos ? "" : label.substr(eq + 1);
    }
    if (!options.stop_signal.empty())
        c.stop_signal = options.stop_signal;
    else if (image_settings.contains("StopSignal") && image_settings["StopSignal"].is_string())
        c.stop_signal = image_settings["StopSignal"].get<std::string>();
    runtime::parse_signal(c.stop_signal);
    c.stop_timeout = options.stop_timeout;
    apply_host_flags(options, c);
    apply_mount_flags(store, options, image_settings, c);
    apply_network_flags(store, options, image_settings, c);

    std::optional<Digest> top;
    for (const auto& diff_id : config.diff_ids()) top = image::chain_id(top, diff_id);
    if (top) c.top_layer = top->str();
    c.created_ns = runtime::unix_now_ns();
    return c;
}

std::string create_container(image::Store& store, const RunOptions& options) {
    runtime::CidFile cidfile(options.cidfile);
    auto config = container_config(store, options);
    auto volumes = prepare_volumes(store, options, config);
    std::string id;
    try {
        id = runtime::ContainerRecords(store).create(config).id;
    } catch (...) {
        undo_volumes(store, volumes);
        throw;
    }
    cidfile.write(id);
    cidfile.keep();
    return id;
}

namespace {

// What the container's mounts and devices get from --tmpfs, --shm-size, --device, --init.
void apply_host_settings(const runtime::ContainerConfig& c, runtime::ContainerSpec& spec) {
    for (const auto& [path, options] : c.tmpfs) spec.tmpfs.push_back(runtime::tmpfs_mount(path, options));
    spec.shm_size = c.shm_size;
    for (const auto& d : c.devices) {
        auto granted = runtime::grant_device(d);
        spec.device_nodes.push_back(granted.node);
        spec.devices.rules.push_back(granted.rule);
    }
    if (c.init) spec.init_binary = runtime::default_init_binary();
}

}  // namespace

runtime::ContainerSpec container_spec(image::Store& store, const runtime::ContainerConfig& c) {
    runtime::ContainerSpec spec;
    apply_process_settings(c, spec);
    spec.args = c.args;
    spec.env = c.env;
    spec.cwd = c.cwd;
    spec.user = c.user;
    spec.hostname = c.hostname;
    spec.binds = c.binds;
    apply_volume_mounts(store, c, spec);
    spec.id = c.id;
    spec.memory_limit = c.memory_limit;
    spec.pids_limit = c.pids_limit;
    spec.cpus = c.cpus;
    spec.memory_swap = c.memory_swap;
    spec.memory_reservation = c.memory_reservation;
    spec.cpu_shares = c.cpu_shares;
    spec.cpuset_cpus = c.cpuset_cpus;
    spec.tty = c.tty;
    spec.privileged = c.privileged;
    apply_host_settings(c, spec);
    if (c.interactive) spec.stdin_fd = 0;
    spec.network_files = true;  // /etc/hostname, /etc/hosts, /etc/resolv.conf as docker run writes them
    apply_network_settings(store, c, spec);
    spec.rootfs = store.layers().existing(runtime::container_snapshot_key(c.id)).mount;
    spec.rootfs.readonly = c.readonly_rootfs;
    // A --rm container's upper dir is deleted once it exits, so overlay need not sync the
    // whole upper filesystem when it is unmounted (with other writers on the disk, tens of
    // ms of every run --rm). Podman mounts its --rm containers "volatile" too (Linux 5.10+).
    if (c.auto_remove && spec.rootfs.type == "overlay" && runtime::running_kernel() >= runtime::KernelVersion{5, 10})
        spec.rootfs.options += ",volatile";
    return spec;
}

namespace {

std::string restart_count_file(const runtime::ContainerPaths& paths) { return paths.dir + "/restart_count"; }

runtime::DetachPaths detach_paths(image::Store& store, const runtime::ContainerConfig& c,
                                  const runtime::ContainerPaths& paths, int restarts, std::int64_t delay_ms) {
    runtime::DetachPaths d;
    d.monitor_binary = runtime::default_monitor_binary();
    d.log_file = paths.log;
    d.exit_file = paths.exit;
    d.oom_file = paths.oom_killed;
    d.attach_dir = paths.dir;
    d.stdin_once = c.stdin_once;
    d.auto_remove = c.auto_remove;
    if (c.restart.name != "no" || c.auto_remove)
        d.restart = {c.restart, restarts, delay_ms, runtime::kiln_binary(), store.root(), c.id};
    return d;
}

}  // namespace

int restart_count(image::Store& store, const std::string& id) {
    try {
        return std::stoi(read_file(restart_count_file(runtime::ContainerRecords(store).paths(id))));
    } catch (const std::exception&) {
        return 0;
    }
}

void restart_from_monitor(image::Store& store, const std::string& id, int restarts, std::int64_t delay_ms,
                          int lock_fd) {
    runtime::ContainerRecords records(store);
    auto row = store.db().container_get(id);
    if (!row || path_exists(runtime::no_restart_marker(id))) {
        runtime::RuntimeDir gone(id, lock_fd);  // removed (and let go) on return
        return;
    }
    auto config = records.config(*row);
    auto paths = records.paths(id);
    atomic_write(restart_count_file(paths), std::to_string(restarts));
    try {
        auto spec = container_spec(store, config);
        spec.runtime_dir_lock = lock_fd;
        spec.stdin_fd = -1;
        spec.open_stdin = config.interactive;
        records.clear_exit_record(id);
        auto detach = detach_paths(store, config, paths, restarts, delay_ms);
        UniqueFd listener = runtime::listen_attach_socket(paths.dir);
        detach.attach_listener = listener.get();
        int failure = runtime::restart_in_place(spec, detach, [&](pid_t pid) {
            records.mark_running(id, pid);
            ::unlink(runtime::restarting_marker(id).c_str());
        });
        records.mark_exited(id, failure, "the command could not be executed");
    } catch (const Error& e) {
        records.mark_exited(id, 125, e.what());
    }
}

int start_detached(image::Store& store, const std::string& id, UniqueFd* attach_client) {
    runtime::ContainerRecords records(store);
    auto row = records.resolve(id);
    if (row.state == "running") throw Error("container " + row.name + " is already running");
    // (A "starting" row is the caller's own, from run_image.)
    runtime::sweep_stale_runtime_dirs();  // a monitor killed earlier may have left its cgroups
    auto config = records.config(row);
    auto spec = container_spec(store, config);
    spec.stdin_fd = -1;
    spec.open_stdin = config.interactive;
    auto paths = records.paths(row.id);
    records.clear_exit_record(row.id);
    ::unlink(restart_count_file(paths).c_str());  // a start by hand counts from 0 again
    auto detach = detach_paths(store, config, paths, 0, 0);
    UniqueFd listener = runtime::listen_attach_socket(paths.dir);
    detach.attach_listener = listener.get();
    // Connected before the container runs, this client sees every byte of its output.
    if (attach_client) *attach_client = runtime::connect_attach_socket(paths.dir);
    auto started = runtime::start_detached(spec, detach);
    if (started.exec_failure) {
        records.mark_exited(row.id, started.exec_failure, "the command could not be executed");
        return started.exec_failure;
    }
    records.mark_running(row.id, started.pid);
    return 0;
}

RunResult run_image(image::Store& store, const RunOptions& options) {
    runtime::CidFile cidfile(options.cidfile);
    auto config = container_config(store, options);
    // The policy is the monitor's to apply, and a foreground run has none.
    if (!options.detach && config.restart.name != "no")
        throw Error("kiln applies --restart to detached containers only: add -d (or use create and start)");
    runtime::ContainerRecords records(store);
    records.list();  // removes the --rm containers of kiln processes killed meanwhile
    auto volumes = prepare_volumes(store, options, config);
    runtime::ContainerRow row;
    try {
        row = records.create_for_run(config);
    } catch (...) {
        undo_volumes(store, volumes);
        throw;
    }
    RunResult result{row.id, 0};
    try {
        cidfile.write(row.id);
        if (options.detach) {
            result.exit_code = start_detached(store, row.id);
            cidfile.keep();
            // No monitor ran to remove it (the command could not be executed).
            if (result.exit_code != 0 && options.auto_remove) records.remove(records.resolve(row.id));
            return result;
        }
        auto spec = container_spec(store, config);
        result.exit_code = runtime::run_container(
            spec, [&](pid_t pid) { records.mark_running(row.id, pid); },
            [&](int status, bool oom_killed) { records.mark_exited(row.id, status, "", oom_killed); });
    } catch (...) {
        // Docker keeps a container whose start failed; kiln's failures before exec are its
        // own (bad flags are refused earlier), so nothing is left behind.
        records.remove(records.refresh(*store.db().container_get(row.id)), true);
        undo_volumes(store, volumes);
        throw;
    }
    // Docker leaves the file of a --rm container behind too.
    cidfile.keep();
    if (options.auto_remove) records.remove(records.resolve(row.id));
    return result;
}

}  // namespace kiln::builder
