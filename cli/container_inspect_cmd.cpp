// `kiln container inspect` in Docker's JSON shape, and `kiln inspect`, which tries
// containers first (image inspect joins that dispatch in cli/inspect_cmd.cpp).
#include <iostream>

#include "builder/run_image.hpp"
#include "cli/commands.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "runtime/container_status.hpp"
#include "runtime/freezer.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/endpoint.hpp"
#include "runtime/restart_policy.hpp"
#include "runtime/volume_store.hpp"
#include "runtime/monitor/json_log.hpp"
#include "util/error.hpp"
#include "util/go_template.hpp"

namespace kiln::cli {

namespace {

// Go's zero time, which Docker prints for a time that never happened.
constexpr const char* zero_time = "0001-01-01T00:00:00Z";

std::string time_or_zero(std::int64_t ns) { return ns ? runtime::rfc3339_nano(ns) : zero_time; }

// HostConfig's keys for the settings of `run`'s flags, in Docker's shapes (null where
// Docker has null for "not given").
void add_host_settings(const runtime::ContainerConfig& c, TemplateValue& host) {
    auto list_or_null = [](const std::vector<std::string>& l) { return l.empty() ? TemplateValue() : TemplateValue(l); };
    host["CapAdd"] = list_or_null(c.cap_add);
    host["CapDrop"] = list_or_null(c.cap_drop);
    host["ReadonlyRootfs"] = c.readonly_rootfs;
    if (c.tmpfs.empty()) {
        host["Tmpfs"] = TemplateValue();
    } else {
        TemplateValue tmpfs = TemplateValue::object();
        for (const auto& [path, options] : c.tmpfs) tmpfs[path] = options;
        host["Tmpfs"] = tmpfs;
    }
    host["ShmSize"] = c.shm_size;
    TemplateValue ulimits = TemplateValue::array();
    for (const auto& u : c.ulimits) ulimits.push_back({{"Name", u.name}, {"Hard", u.hard}, {"Soft", u.soft}});
    host["Ulimits"] = c.ulimits.empty() ? TemplateValue() : ulimits;
    TemplateValue devices = TemplateValue::array();
    for (const auto& d : c.devices)
        devices.push_back({{"PathOnHost", d.host}, {"PathInContainer", d.container}, {"CgroupPermissions", d.permissions}});
    host["Devices"] = devices;
    host["Init"] = c.init ? TemplateValue(true) : TemplateValue();
    host["RestartPolicy"] = {{"Name", c.restart.name}, {"MaximumRetryCount", c.restart.max_retries}};
}

// Docker's Mounts entries (and -v's Binds strings) for the container's volumes.
void add_volume_mounts(image::Store& store, const runtime::ContainerConfig& c, TemplateValue& binds, TemplateValue& mounts) {
    if (c.volumes.empty()) return;
    runtime::VolumeStore volumes(store.root());
    for (const auto& v : c.volumes) {
        auto volume = volumes.find(v.name);
        if (!v.anonymous && !v.mode.empty()) binds.push_back(v.name + ":" + v.destination + (v.mode == "z" ? "" : ":" + v.mode));
        mounts.push_back({{"Type", "volume"},
                          {"Name", v.name},
                          {"Source", volume ? volume->mountpoint : std::string()},
                          {"Destination", v.destination},
                          {"Driver", "local"},
                          {"Mode", v.mode},
                          {"RW", !v.readonly},
                          {"Propagation", ""}});
    }
}

// Docker's PortMap JSON: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}.
TemplateValue port_map_json(const runtime::PortMap& ports) {
    TemplateValue out = TemplateValue::object();
    for (const auto& [port, bindings] : ports) {
        TemplateValue list = TemplateValue::array();
        for (const auto& b : bindings) list.push_back({{"HostIp", b.host_ip}, {"HostPort", b.host_port}});
        out[port] = list;
    }
    return out;
}

// Docker's NetworkSettings: the bridge endpoint of a running container (empty fields
// otherwise), under Networks by the name of its network as well.
TemplateValue network_settings(const runtime::ContainerRow& row, const runtime::ContainerConfig& c, bool running) {
    auto endpoint = running ? runtime::bridge_endpoint(row.id) : std::nullopt;
    runtime::BridgeEndpoint e = endpoint.value_or(runtime::BridgeEndpoint{});
    TemplateValue settings = {{"Bridge", ""}, {"SandboxID", ""},
                              {"Ports", port_map_json(running ? runtime::published_ports(row.id) : runtime::PortMap{})},
                              {"Gateway", ""}, {"IPAddress", ""}, {"IPPrefixLen", 0},
                              {"MacAddress", ""}, {"Networks", TemplateValue::object()}};
    // As Docker: the top-level fields describe the default bridge's endpoint only.
    if (c.network.mode == "bridge") {
        settings["Gateway"] = e.gateway;
        settings["IPAddress"] = e.address;
        settings["IPPrefixLen"] = e.prefix_len;
        settings["MacAddress"] = e.mac;
    }
    // Docker's entry of one network; aliases null on kiln0, as Docker's default bridge has them.
    auto entry = [&](const std::string& network_id, const std::vector<std::string>& names,
                     const std::optional<runtime::BridgeEndpoint>& on) {
        const runtime::BridgeEndpoint at = on.value_or(runtime::BridgeEndpoint{});
        TemplateValue aliases;
        if (!network_id.empty()) {
            aliases = TemplateValue::array();
            for (const auto& a : names) aliases.push_back(a);
            aliases.push_back(row.id.substr(0, 12));
        }
        return TemplateValue{{"IPAMConfig", TemplateValue()}, {"Links", TemplateValue()},
                             {"Aliases", aliases}, {"MacAddress", at.mac},
                             {"NetworkID", network_id}, {"EndpointID", on ? row.id : ""},
                             {"Gateway", at.gateway}, {"IPAddress", at.address},
                             {"IPPrefixLen", at.prefix_len}, {"IPv6Gateway", ""},
                             {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0},
                             {"DriverOpts", TemplateValue()}};
    };
    const std::string network = c.network.mode.starts_with("container:") ? "" : c.network.mode;
    if (!network.empty() && !c.network.first_disconnected)
        settings["Networks"][network] = entry(c.network.network_id, c.network.aliases, endpoint);
    for (const auto& extra : c.network.connected)
        settings["Networks"][extra.name] =
            entry(extra.network_id, extra.aliases,
                  running ? runtime::endpoint_on_network(row.id, extra.network_id) : std::nullopt);
    return settings;
}

TemplateValue inspect_json(image::Store& store, runtime::ContainerRecords& records, const runtime::ContainerRow& row) {
    auto c = records.config(row);
    const bool running = row.state == "running";
    const auto restarting = running ? runtime::container_restarting(row.id) : std::nullopt;
    TemplateValue state;
    state["Status"] = runtime::docker_state(row);
    state["Running"] = running;
    state["Paused"] = running && runtime::container_paused(row.id);
    state["Restarting"] = restarting.has_value();
    state["OOMKilled"] = !running && records.oom_killed(row.id);
    state["Dead"] = false;
    state["Pid"] = running && !restarting ? row.pid : 0;
    state["ExitCode"] = restarting ? restarting->exit_code : row.exit_code;
    state["Error"] = row.error;
    state["StartedAt"] = time_or_zero(row.started_ns);
    state["FinishedAt"] = time_or_zero(restarting ? restarting->finished_ns : row.finished_ns);

    TemplateValue binds = TemplateValue::array(), mounts = TemplateValue::array();
    for (const auto& b : c.binds) {
        binds.push_back(b.source + ":" + b.destination + (b.readonly ? ":ro" : ""));
        auto propagation = c.bind_propagation.find(b.destination);
        mounts.push_back({{"Type", "bind"}, {"Source", b.source}, {"Destination", b.destination}, {"Mode", b.readonly ? "ro" : ""},
                          {"RW", !b.readonly},
                          {"Propagation", propagation == c.bind_propagation.end() ? "rprivate" : propagation->second}});
    }
    add_volume_mounts(store, c, binds, mounts);
    TemplateValue labels = TemplateValue::object();
    for (const auto& [k, v] : c.labels) labels[k] = v;
    const auto paths = records.paths(row.id);

    TemplateValue v;
    v["Id"] = row.id;
    v["Created"] = runtime::rfc3339_nano(row.created_ns);
    v["Path"] = c.args.empty() ? "" : c.args.front();
    v["Args"] = c.args.size() > 1 ? TemplateValue(std::vector<std::string>(c.args.begin() + 1, c.args.end())) : TemplateValue::array();
    v["State"] = state;
    v["Image"] = row.image_id;
    v["ResolvConfPath"] = "";
    v["HostnamePath"] = "";
    v["HostsPath"] = "";
    v["LogPath"] = paths.log;
    v["Name"] = "/" + row.name;
    v["RestartCount"] = builder::restart_count(store, row.id);
    v["Driver"] = "overlay2";
    v["Platform"] = "linux";
    v["HostConfig"] = {{"Binds", binds},
                       {"LogConfig", {{"Type", "json-file"}, {"Config", TemplateValue::object()}}},
                       {"NetworkMode", c.network.mode},
                       {"Dns", c.network.dns},
                       {"DnsSearch", c.network.dns_search},
                       {"DnsOptions", c.network.dns_options},
                       {"ExtraHosts", c.network.extra_hosts.empty() ? TemplateValue() : TemplateValue(c.network.extra_hosts)},
                       {"PortBindings", port_map_json(c.port_bindings)},
                       {"AutoRemove", c.auto_remove},
                       {"Memory", c.memory_limit},
                       {"MemorySwap", c.memory_swap},
                       {"MemoryReservation", c.memory_reservation},
                       {"CpuShares", c.cpu_shares},
                       {"CpusetCpus", c.cpuset_cpus},
                       {"NanoCpus", static_cast<std::int64_t>(c.cpus * 1e9)},
                       {"PidsLimit", c.pids_limit ? TemplateValue(c.pids_limit) : TemplateValue()},
                       {"SecurityOpt", c.security_opts.empty() ? TemplateValue() : TemplateValue(c.security_opts)},
                       {"Privileged", c.privileged},
                       {"VolumesFrom", c.volumes_from.empty() ? TemplateValue() : TemplateValue(c.volumes_from)}};
    add_host_settings(c, v["HostConfig"]);
    v["Mounts"] = mounts;
    v["Config"] = {{"Hostname", c.hostname},
                   {"User", c.user},
                   {"AttachStdin", c.stdin_once},  // -i without -d, as Docker sets it
                   {"AttachStdout", !c.tty},
                   {"AttachStderr", !c.tty},
                   {"Tty", c.tty},
                   {"OpenStdin", c.interactive},
                   {"StdinOnce", c.stdin_once},
                   {"Env", c.env},
                   {"Cmd", c.cmd.empty() ? TemplateValue() : TemplateValue(c.cmd)},
                   {"Image", c.image},
                   {"WorkingDir", c.cwd == "/" ? "" : c.cwd},
                   {"Entrypoint", c.entrypoint.empty() ? TemplateValue() : TemplateValue(c.entrypoint)},
                   {"Labels", labels},
                   {"StopSignal", c.stop_signal}};
    if (c.stop_timeout) v["Config"]["StopTimeout"] = *c.stop_timeout;
    v["NetworkSettings"] = network_settings(row, c, running);
    return v;
}

void add_inspect(CLI::App* cmd, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::vector<std::string> names;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    cmd->add_option("CONTAINER", f->names, "Containers")->required();
    cmd->add_option("-f,--format", f->format, "Format output using a Go template");
    cmd->callback([f, &global, &exit_code] {
        std::optional<GoTemplate> tmpl;
        if (!f->format.empty()) tmpl.emplace(f->format);
        image::Store store(global.root);
        runtime::ContainerRecords records(store);
        TemplateValue all = TemplateValue::array();
        for (const auto& name : f->names) {
            try {
                auto value = inspect_json(store, records, records.resolve(name));
                if (tmpl)
                    std::cout << tmpl->execute(value) << "\n";
                else
                    all.push_back(std::move(value));
            } catch (const Error& e) {
                std::cerr << "kiln: " << e.what() << std::endl;
                exit_code = 1;
            }
        }
        if (!tmpl) std::cout << all.dump(4) << "\n";
        std::cout << std::flush;
    });
}

}  // namespace

void register_container_inspect_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto* container = app.get_subcommand("container");
    add_inspect(container->add_subcommand("inspect", "Display detailed information on one or more containers"), global,
                exit_code);
}

std::optional<TemplateValue> inspect_container_named(image::Store& store, const std::string& name) {
    runtime::ContainerRecords records(store);
    try {
        return inspect_json(store, records, records.resolve(name));
    } catch (const Error&) {
        return std::nullopt;  // no such container (or an ambiguous prefix): try the next kind
    }
}

}  // namespace kiln::cli
