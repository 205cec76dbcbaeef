#pragma once
#include <string>
#include <vector>

namespace kiln::registry {

// kiln's own settings file (/etc/kiln/config.json, moved by KILN_CONFIG), with the keys and
// meaning of Docker's daemon.json that concern registries.
struct Settings {
    // "https://mirror.example" or "http://127.0.0.1:5001": tried in order for docker.io names,
    // then docker.io itself.
    std::vector<std::string> registry_mirrors;
    // "host:port" or a CIDR ("10.0.0.0/8"): plain HTTP allowed, TLS not verified.
    // localhost and 127.0.0.0/8 are always insecure, as in Docker.
    std::vector<std::string> insecure_registries;
    // certs.d/HOST[:PORT]/{ca.crt, *.crt, client.cert, client.key}: beside the settings file.
    std::string certs_dir;

    bool is_insecure(const std::string& host_port) const;
};

// Reads the settings file at path (absent: defaults). A malformed file or key is a kiln::Error
// naming the file and the key.
Settings load_settings(const std::string& path);
// KILN_CONFIG, else /etc/kiln/config.json.
std::string settings_path();

}  // namespace kiln::registry
