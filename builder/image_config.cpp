#include "builder/image_config.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

using nlohmann::json;

ImageConfig ImageConfig::scratch(const std::string& os, const std::string& architecture) {
    json c = json::object();
    c["architecture"] = architecture;
    c["os"] = os;
    c["config"] = json::object();
    c["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    c["history"] = json::array();
    return ImageConfig(std::move(c));
}

ImageConfig ImageConfig::from_base(const json& base) {
    if (!base.is_object()) throw Error("base image config is not a JSON object");
    ImageConfig out(base);
    auto& c = out.config_;
    if (!c.contains("config") || c["config"].is_null()) c["config"] = json::object();
    if (!c["config"].is_object()) throw Error("base image config: \"config\" is not an object");
    if (!c.contains("rootfs") || !c["rootfs"].is_object())
        c["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    if (!c.contains("history") || !c["history"].is_array()) c["history"] = json::array();
    c.erase("created");
    out.cmd_from_base_ = c["config"].contains("Cmd") && !c["config"]["Cmd"].is_null();
    return out;
}

ImageConfig ImageConfig::restore(const json& saved, bool cmd_inherited) {
    ImageConfig out = from_base(saved);
    if (saved.contains("created")) out.config_["created"] = saved["created"];
    out.cmd_from_base_ = cmd_inherited;
    return out;
}

json& ImageConfig::section() { return config_["config"]; }

const json* ImageConfig::section_if() const {
    auto it = config_.find("config");
    return it != config_.end() && it->is_object() ? &*it : nullptr;
}

std::vector<std::string> ImageConfig::strings(const char* key) const {
    std::vector<std::string> out;
    const json* s = section_if();
    if (!s) return out;
    auto it = s->find(key);
    if (it == s->end() || !it->is_array()) return out;
    for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::vector<std::string> ImageConfig::env() const { return strings("Env"); }

std::optional<std::string> ImageConfig::env_value(const std::string& key) const {
    for (const auto& entry : env())
        if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
            entry[key.size()] == '=')
            return entry.substr(key.size() + 1);
        else if (entry == key)
            return std::string();
    return std::nullopt;
}

void ImageConfig::set_env(const std::string& key, const std::string& value) {
    json& s = section();
    if (!s.contains("Env") || !s["Env"].is_array()) s["Env"] = json::array();
    std::string entry = key + "=" + value;
    for (auto& e : s["Env"]) {
        if (!e.is_string()) continue;
        const auto& text = e.get_ref<const std::string&>();
        if (text == key || (text.size() > key.size() && text.compare(0, key.size(), key) == 0 &&
                            text[key.size()] == '=')) {
            e = entry;
            return;
        }
    }
    s["Env"].push_back(entry);
}

std::string ImageConfig::working_dir() const {
    const json* s = section_if();
    if (s && s->contains("WorkingDir") && (*s)["WorkingDir"].is_string()) {
        auto dir = (*s)["WorkingDir"].get<std::string>();
        if (!dir.empty()) return dir;
    }
    return "/";
}

void ImageConfig::set_working_dir(const std::string& path) {
    // BuildKit's NormalizeWorkdir: an absolute path is kept as written (`/tmp/` stays
    // `/tmp/`); a relative one is joined to the current directory and cleaned.
    if (path.empty()) return;
    section()["WorkingDir"] = path.starts_with('/') ? path : clean_path(working_dir() + "/" + path);
}

std::string ImageConfig::user() const {
    const json* s = section_if();
    if (s && s->contains("User") && (*s)["User"].is_string()) return (*s)["User"].get<std::string>();
    return "";
}

void ImageConfig::set_user(const std::string& user) { section()["User"] = user; }

std::vector<std::string> ImageConfig::cmd() const { return strings("Cmd"); }

void ImageConfig::set_cmd(const std::vector<std::string>& cmd) {
    section()["Cmd"] = cmd;
    cmd_from_base_ = false;
}

std::vector<std::string> ImageConfig::entrypoint() const { return strings("Entrypoint"); }

void ImageConfig::set_entrypoint(const std::vector<std::string>& entrypoint) {
    section()["Entrypoint"] = entrypoint;
    // Docker: a CMD that came with the base image makes no sense for a new ENTRYPOINT.
    if (cmd_from_base_) {
        section()["Cmd"] = nullptr;
        cmd_from_base_ = false;
    }
}

std::vector<std::string> ImageConfig::shell() const {
    auto s = strings("Shell");
    if (s.empty()) return {"/bin/sh", "-c"};
    return s;
}

void ImageConfig::set_shell(const std::vector<std::string>& shell) { section()["Shell"] = shell; }

void ImageConfig::set_label(const std::string& key, const std::string& value) {
    json& s = section();
    if (!s.contains("Labels") || !s["Labels"].is_object()) s["Labels"] = json::object();
    s["Labels"][key] = value;
}

void ImageConfig::add_exposed_port(const std::string& port) {
    json& s = section();
    if (!s.contains("ExposedPorts") || !s["ExposedPorts"].is_object())
        s["ExposedPorts"] = json::object();
    std::string key = port.find('/') == std::string::npos ? port + "/tcp" : port;
    s["ExposedPorts"][key] = json::object();
}

void ImageConfig::add_volume(const std::string& path) {
    json& s = section();
    if (!s.contains("Volumes") || !s["Volumes"].is_object()) s["Volumes"] = json::object();
    s["Volumes"][path] = json::object();
}

void ImageConfig::set_stop_signal(const std::string& signal) { section()["StopSignal"] = signal; }

void ImageConfig::set_healthcheck(const json& healthcheck) { section()["Healthcheck"] = healthcheck; }

void ImageConfig::add_onbuild(const std::string& expression) {
    json& s = section();
    if (!s.contains("OnBuild") || !s["OnBuild"].is_array()) s["OnBuild"] = json::array();
    s["OnBuild"].push_back(expression);
}

std::vector<std::string> ImageConfig::take_onbuild() {
    std::vector<std::string> triggers = strings("OnBuild");
    if (json* s = &section(); s->contains("OnBuild")) s->erase("OnBuild");
    return triggers;
}

void ImageConfig::add_layer(const Digest& diff_id) {
    config_["rootfs"]["diff_ids"].push_back(diff_id.str());
}

std::vector<Digest> ImageConfig::diff_ids() const {
    std::vector<Digest> out;
    auto rootfs = config_.find("rootfs");
    if (rootfs == config_.end() || !rootfs->is_object()) return out;
    auto ids = rootfs->find("diff_ids");
    if (ids == rootfs->end() || !ids->is_array()) return out;
    for (const auto& id : *ids) {
        if (!id.is_string()) throw Error("image config: rootfs.diff_ids holds a non-string");
        out.push_back(Digest::parse(id.get<std::string>()));
    }
    return out;
}

void ImageConfig::add_history(const std::string& created_by, bool empty_layer,
                              const std::string& created, const std::string& comment, const std::string& author) {
    json entry = {{"created", created}};
    if (!author.empty()) entry["author"] = author;
    if (!created_by.empty()) entry["created_by"] = created_by;
    if (!comment.empty()) entry["comment"] = comment;
    if (empty_layer) entry["empty_layer"] = true;
    config_["history"].push_back(std::move(entry));
    config_["created"] = created;
}

std::string ImageConfig::serialize() const { return config_.dump(); }

std::string now_rfc3339() {
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
    std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}

}  // namespace kiln::builder
