#include "runtime/container_config.hpp"

#include <signal.h>
#include <string.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "runtime/network/network_config.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

std::string config_to_json(const ContainerConfig& c) {
    nlohmann::json binds = nlohmann::json::array();
    for (const auto& b : c.binds) binds.push_back({{"source", b.source}, {"destination", b.destination}, {"readonly", b.readonly}});
    nlohmann::json volumes = nlohmann::json::array();
    for (const auto& v : c.volumes)
        volumes.push_back({{"name", v.name}, {"destination", v.destination}, {"readonly", v.readonly},
                           {"nocopy", v.nocopy}, {"anonymous", v.anonymous}, {"mode", v.mode}});
    nlohmann::json ulimits = nlohmann::json::array(), devices = nlohmann::json::array();
    for (const auto& u : c.ulimits) ulimits.push_back({{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}});
    for (const auto& d : c.devices)
        devices.push_back({{"host", d.host}, {"container", d.container}, {"permissions", d.permissions}});
    nlohmann::json ports = nlohmann::json::object();
    for (const auto& [port, bindings] : c.port_bindings) {
        ports[port] = nlohmann::json::array();
        for (const auto& b : bindings) ports[port].push_back({{"host_ip", b.host_ip}, {"host_port", b.host_port}});
    }
    nlohmann::json j = {
        {"id", c.id},
        {"name", c.name},
        {"image", c.image},
        {"image_id", c.image_id},
        {"top_layer", c.top_layer ? nlohmann::json(*c.top_layer) : nlohmann::json()},
        {"created_ns", c.created_ns},
        {"args", c.args},
        {"entrypoint", c.entrypoint},
        {"cmd", c.cmd},
        {"env", c.env},
        {"cwd", c.cwd},
        {"user", c.user},
        {"hostname", c.hostname},
        {"binds", binds},
        {"memory_limit", c.memory_limit},
        {"pids_limit", c.pids_limit},
        {"cpus", c.cpus},
        {"memory_swap", c.memory_swap},
        {"memory_reservation", c.memory_reservation},
        {"cpu_shares", c.cpu_shares},
        {"cpuset_cpus", c.cpuset_cpus},
        {"tty", c.tty},
        {"interactive", c.interactive},
        {"stdin_once", c.stdin_once},
        {"auto_remove", c.auto_remove},
        {"privileged", c.privileged},
        {"security_opts", c.security_opts},
        {"labels", c.labels},
        {"stop_signal", c.stop_signal},
        {"stop_timeout", c.stop_timeout ? nlohmann::json(*c.stop_timeout) : nlohmann::json()},
        {"cap_add", c.cap_add},
        {"cap_drop", c.cap_drop},
        {"readonly_rootfs", c.readonly_rootfs},
        {"tmpfs", c.tmpfs},
        {"shm_size", c.shm_size},
        {"ulimits", ulimits},
        {"devices", devices},
        {"init", c.init},
        {"restart", {{"name", c.restart.name}, {"max_retries", c.restart.max_retries}}},
        {"port_bindings", ports},
        {"volumes", volumes},
        {"volumes_from", c.volumes_from},
        {"bind_propagation", c.bind_propagation},
        {"network", network_config_json(c.network)},
    };
    return j.dump();
}

ContainerConfig config_from_json(const std::string& text) {
    ContainerConfig c;
    try {
        auto j = nlohmann::json::parse(text);
        c.id = j.at("id");
        c.name = j.at("name");
        c.image = j.at("image");
        c.image_id = j.at("image_id");
        if (!j.at("top_layer").is_null()) c.top_layer = j["top_layer"].get<std::string>();
        c.created_ns = j.at("created_ns");
        c.args = j.at("args");
        c.entrypoint = j.at("entrypoint");
        c.cmd = j.at("cmd");
        c.env = j.at("env");
        c.cwd = j.at("cwd");
        c.user = j.at("user");
        c.hostname = j.at("hostname");
        for (const auto& b : j.at("binds")) c.binds.push_back({b.at("source"), b.at("destination"), b.at("readonly")});
        c.memory_limit = j.at("memory_limit");
        c.pids_limit = j.at("pids_limit");
        c.cpus = j.at("cpus");
        // Records from before these flags have none of them.
        c.memory_swap = j.value("memory_swap", std::int64_t{0});
        c.memory_reservation = j.value("memory_reservation", std::int64_t{0});
        c.cpu_shares = j.value("cpu_shares", std::int64_t{0});
        c.cpuset_cpus = j.value("cpuset_cpus", std::string());
        c.tty = j.at("tty");
        c.interactive = j.at("interactive");
        c.stdin_once = j.value("stdin_once", false);  // records from before attach
        c.auto_remove = j.at("auto_remove");
        c.privileged = j.value("privileged", false);  // records from before the flag
        c.security_opts = j.at("security_opts");
        c.labels = j.at("labels");
        c.stop_signal = j.at("stop_signal");
        if (!j.at("stop_timeout").is_null()) c.stop_timeout = j["stop_timeout"].get<int>();
        // Records from before these flags have none of them.
        c.cap_add = j.value("cap_add", std::vector<std::string>{});
        c.cap_drop = j.value("cap_drop", std::vector<std::string>{});
        c.readonly_rootfs = j.value("readonly_rootfs", false);
        c.tmpfs = j.value("tmpfs", std::map<std::string, std::string>{});
        c.shm_size = j.value("shm_size", docker_shm_size);
        for (const auto& u : j.value("ulimits", nlohmann::json::array())) c.ulimits.push_back({u.at("name"), u.at("soft"), u.at("hard")});
        for (const auto& d : j.value("devices", nlohmann::json::array()))
            c.devices.push_back({d.at("host"), d.at("container"), d.at("permissions")});
        c.init = j.value("init", false);
        if (j.contains("restart")) c.restart = {j["restart"].at("name"), j["restart"].at("max_retries")};
        // A named copy: items() of the temporary value() returns would dangle.
        const auto port_bindings = j.value("port_bindings", nlohmann::json::object());
        for (const auto& [port, bindings] : port_bindings.items())
            for (const auto& b : bindings) c.port_bindings[port].push_back({b.at("host_ip"), b.at("host_port")});
        // Records from before volumes have none.
        for (const auto& v : j.value("volumes", nlohmann::json::array()))
            c.volumes.push_back({v.at("name"), v.at("destination"), v.at("readonly"), v.at("nocopy"), v.at("anonymous"),
                                 v.at("mode")});
        c.volumes_from = j.value("volumes_from", std::vector<std::string>{});
        c.bind_propagation = j.value("bind_propagation", std::map<std::string, std::string>{});
        c.network = network_config_from_json(j);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("container config: ") + e.what());
    }
    return c;
}

int parse_signal(const std::string& text) {
    if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) {
        std::size_t used = 0;
        int n = -1;
        try {
            n = std::stoi(text, &used);
        } catch (const std::exception&) {
        }
        if (used == text.size() && n > 0 && n < NSIG) return n;
        throw Error("Invalid signal: " + text);
    }
    std::string upper;
    for (char ch : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (upper.starts_with("SIG")) upper.erase(0, 3);
    for (int sig = 1; sig < NSIG; ++sig) {
        const char* abbrev = ::sigabbrev_np(sig);
        if (abbrev && upper == abbrev) return sig;
    }
    throw Error("Invalid signal: " + text);
}

}  // namespace kiln::runtime
