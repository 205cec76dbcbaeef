#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/digest.hpp"

namespace kiln::builder {

// The OCI image config of the stage being built, changed instruction by instruction with
// Docker's rules (ENV replaces a variable in place, WORKDIR is relative to the previous one,
// ENTRYPOINT drops a CMD inherited from the base image, …). Unknown fields of the base
// config are kept.
class ImageConfig {
public:
    static ImageConfig scratch(const std::string& os, const std::string& architecture);
    // Starts from a base image's config; its history and layers carry on.
    static ImageConfig from_base(const nlohmann::json& base);
    // Brings back a config saved by the build cache exactly as it was (unlike from_base).
    static ImageConfig restore(const nlohmann::json& saved, bool cmd_inherited);
    // Whether CMD still is the base image's (a new ENTRYPOINT then drops it).
    bool cmd_inherited() const { return cmd_from_base_; }

    std::vector<std::string> env() const;          // "K=V" in order
    std::optional<std::string> env_value(const std::string& key) const;
    void set_env(const std::string& key, const std::string& value);

    std::string working_dir() const;               // "/" when unset
    // Relative paths are taken from the current working directory and cleaned; absolute
    // ones are stored as written, as BuildKit does.
    void set_working_dir(const std::string& path);

    std::string user() const;
    void set_user(const std::string& user);
    std::vector<std::string> cmd() const;
    void set_cmd(const std::vector<std::string>& cmd);
    std::vector<std::string> entrypoint() const;
    void set_entrypoint(const std::vector<std::string>& entrypoint);
    std::vector<std::string> shell() const;        // ["/bin/sh","-c"] when unset
    void set_shell(const std::vector<std::string>& shell);
    void set_label(const std::string& key, const std::string& value);
    void add_exposed_port(const std::string& port);
    void add_volume(const std::string& path);
    void set_stop_signal(const std::string& signal);
    void set_healthcheck(const nlohmann::json& healthcheck);
    void add_onbuild(const std::string& expression);
    // The ONBUILD triggers, removed from the config (an image built FROM this one runs
    // them once; they do not carry on to its children).
    std::vector<std::string> take_onbuild();
    // MAINTAINER: Docker records it as the config's "author".
    void set_author(const std::string& author) { config_["author"] = author; }

    void add_layer(const Digest& diff_id);
    std::vector<Digest> diff_ids() const;
    // created_by, comment and author are left out of the entry when empty.
    void add_history(const std::string& created_by, bool empty_layer, const std::string& created,
                     const std::string& comment = "", const std::string& author = "");

    const nlohmann::json& as_json() const { return config_; }
    // Canonical serialisation: the image ID is the sha256 of exactly these bytes.
    std::string serialize() const;

private:
    explicit ImageConfig(nlohmann::json config) : config_(std::move(config)) {}
    nlohmann::json& section();
    const nlohmann::json* section_if() const;
    std::vector<std::string> strings(const char* key) const;

    nlohmann::json config_;
    bool cmd_from_base_ = false;
};

// RFC 3339 UTC with nanoseconds, as Docker writes "created".
std::string now_rfc3339();

}  // namespace kiln::builder
