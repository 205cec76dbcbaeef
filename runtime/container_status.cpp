#include "runtime/container_status.hpp"

#include <cmath>
#include <map>
#include <set>

#include "runtime/freezer.hpp"
#include "runtime/restart_policy.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

std::string human_duration(std::int64_t ns) {
    const double seconds = static_cast<double>(ns) / 1e9;
    const auto s = static_cast<std::int64_t>(seconds);
    if (s < 1) return "Less than a second";
    if (s == 1) return "1 second";
    if (s < 60) return std::to_string(s) + " seconds";
    const auto minutes = static_cast<std::int64_t>(seconds / 60);
    if (minutes == 1) return "About a minute";
    if (minutes < 60) return std::to_string(minutes) + " minutes";
    const auto hours = static_cast<std::int64_t>(std::round(seconds / 3600));
    if (hours == 1) return "About an hour";
    if (hours < 48) return std::to_string(hours) + " hours";
    if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
    if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
    if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
    return std::to_string(hours / 24 / 365) + " years";
}

std::string docker_state(const ContainerRow& row) {
    if (row.state == "running" && container_restarting(row.id)) return "restarting";
    if (row.state == "running" && container_paused(row.id)) return "paused";
    return row.state == "starting" ? "created" : row.state;
}

std::string status_text(const ContainerRow& row, std::int64_t now_ns) {
    if (row.state == "running") {
        if (auto wait = container_restarting(row.id))
            return "Restarting (" + std::to_string(wait->exit_code) + ") " + human_duration(now_ns - wait->finished_ns) +
                   " ago";
        return "Up " + human_duration(now_ns - row.started_ns) + (container_paused(row.id) ? " (Paused)" : "");
    }
    if (row.state == "exited" && row.started_ns > 0)
        return "Exited (" + std::to_string(row.exit_code) + ") " + human_duration(now_ns - row.finished_ns) + " ago";
    return "Created";
}

PsFilter parse_ps_filter(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos) throw Error("bad format of filter (expected name=value)");
    PsFilter f{text.substr(0, eq), text.substr(eq + 1)};
    static const std::set<std::string> keys = {"status", "name", "id", "label", "ancestor", "exited", "network"};
    if (!keys.count(f.key)) throw Error("invalid filter '" + f.key + "'");
    if (f.key == "status") {
        static const std::set<std::string> states = {"created", "restarting", "running", "removing",
                                                     "paused",  "exited",     "dead"};
        if (!states.count(f.value))
            throw Error("invalid filter 'status=" + f.value +
                        "': Invalid filter 'status', only created, restarting, running, removing, paused, exited and dead are allowed");
    }
    if (f.key == "exited") {
        try {
            std::size_t used = 0;
            std::stoi(f.value, &used);
            if (used != f.value.size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            throw Error("invalid filter 'exited=" + f.value + "'");
        }
    }
    return f;
}

namespace {

bool matches(const PsFilter& f, const ContainerRow& row, const ContainerConfig& config) {
    if (f.key == "status") return docker_state(row) == f.value;
    // Docker matches names and ids as substrings/prefixes (name: a regular expression).
    if (f.key == "name") return row.name.find(f.value.starts_with('/') ? f.value.substr(1) : f.value) != std::string::npos;
    if (f.key == "id") return row.id.starts_with(f.value);
    // Docker's network filter: the network's name or id (a user-defined network's full id).
    if (f.key == "network") {
        if (!config.network.first_disconnected &&
            (config.network.mode == f.value || (!config.network.network_id.empty() && config.network.network_id == f.value)))
            return true;
        for (const auto& c : config.network.connected)
            if (c.name == f.value || (!c.network_id.empty() && c.network_id == f.value)) return true;
        return false;
    }
    if (f.key == "exited")
        return row.state == "exited" && row.started_ns > 0 && std::to_string(row.exit_code) == f.value;
    if (f.key == "label") {
        auto eq = f.value.find('=');
        auto it = config.labels.find(f.value.substr(0, eq));
        if (it == config.labels.end()) return false;
        return eq == std::string::npos || it->second == f.value.substr(eq + 1);
    }
    if (f.key == "ancestor") {
        std::string hex = row.image_id.starts_with("sha256:") ? row.image_id.substr(7) : row.image_id;
        std::string want = f.value.starts_with("sha256:") ? f.value.substr(7) : f.value;
        if (row.image == f.value || row.image_id == f.value) return true;
        if (row.image == f.value + ":latest" || f.value == row.image + ":latest") return true;
        return want.size() >= 4 && hex.starts_with(want);
    }
    return false;
}

}  // namespace

bool ps_filters_match(const std::vector<PsFilter>& filters, const ContainerRow& row, const ContainerConfig& config) {
    std::map<std::string, bool> by_key;  // key → some value matched
    for (const auto& f : filters) by_key[f.key] = by_key[f.key] || matches(f, row, config);
    for (const auto& [key, ok] : by_key)
        if (!ok) return false;
    return true;
}

}  // namespace kiln::runtime
