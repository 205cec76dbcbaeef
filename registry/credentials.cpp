#include "registry/credentials.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "registry/base64.hpp"
#include "registry/credential_helper.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::registry {

namespace {

constexpr const char* kDockerHubKey = "https://index.docker.io/v1/";

bool is_docker_hub(const std::string& host) {
    return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

// A key of `auths` as the docker CLI compares them: without scheme and path.
std::string key_hostname(std::string key) {
    if (auto p = key.find("://"); p != std::string::npos) key = key.substr(p + 3);
    return key.substr(0, key.find('/'));
}

class ConfigFile {
public:
    explicit ConfigFile(std::string dir) : path_(std::move(dir) + "/config.json") {
        if (!path_exists(path_)) {
            doc_ = nlohmann::json::object();
            return;
        }
        try {
            doc_ = nlohmann::json::parse(read_file(path_));
        } catch (const nlohmann::json::parse_error& e) {
            throw Error(path_ + ": not valid JSON: " + std::string(e.what()));
        }
        if (!doc_.is_object()) throw Error(path_ + ": not a JSON object");
        if (doc_.contains("auths") && !doc_["auths"].is_object()) throw Error(path_ + ": auths: not an object");
    }

    // The helper for a registry: credHelpers by its key or hostname, else credsStore.
    std::optional<std::string> helper_for(const std::string& key) const {
        if (auto it = doc_.find("credHelpers"); it != doc_.end() && it->is_object()) {
            for (const auto& name : {key, key_hostname(key)})
                if (auto h = it->find(name); h != it->end() && h->is_string() && !h->get<std::string>().empty())
                    return h->get<std::string>();
        }
        if (auto it = doc_.find("credsStore"); it != doc_.end() && it->is_string() && !it->get<std::string>().empty())
            return it->get<std::string>();
        return std::nullopt;
    }

    // The `auths` entry's key for a registry: exact, else one whose hostname matches.
    std::optional<std::string> find_auth_key(const std::string& key) const {
        auto it = doc_.find("auths");
        if (it == doc_.end()) return std::nullopt;
        if (it->contains(key)) return key;
        std::string host = key_hostname(key);
        for (const auto& [k, v] : it->items()) {
            std::string kh = key_hostname(k);
            if (kh == host || (is_docker_hub(kh) && is_docker_hub(host))) return k;
        }
        return std::nullopt;
    }

    std::optional<Credential> file_credential(const std::string& key) const {
        auto found = find_auth_key(key);
        if (!found) return std::nullopt;
        const auto& entry = doc_["auths"][*found];
        if (!entry.is_object()) return std::nullopt;
        Credential c;
        if (auto a = entry.find("auth"); a != entry.end() && a->is_string() && !a->get<std::string>().empty()) {
            auto decoded = base64_decode(a->get<std::string>());
            auto colon = decoded ? decoded->find(':') : std::string::npos;
            if (colon == std::string::npos) throw Error(path_ + ": auths." + *found + ".auth: not base64 of user:password");
            c.username = decoded->substr(0, colon);
            c.secret = decoded->substr(colon + 1);
        } else {
            if (auto u = entry.find("username"); u != entry.end() && u->is_string()) c.username = *u;
            if (auto p = entry.find("password"); p != entry.end() && p->is_string()) c.secret = *p;
        }
        if (auto t = entry.find("identitytoken"); t != entry.end() && t->is_string() && !t->get<std::string>().empty()) {
            c.secret = t->get<std::string>();
            c.identity_token = true;
        }
        if (c.username.empty() && c.secret.empty()) return std::nullopt;
        return c;
    }

    nlohmann::json& auths() {
        if (!doc_.contains("auths")) doc_["auths"] = nlohmann::json::object();
        return doc_["auths"];
    }

    void save(const std::string& dir) {
        mkdir_p(dir);
        atomic_write(path_, doc_.dump(1, '\t') + "\n", 0600);
    }

private:
    std::string path_;
    nlohmann::json doc_;
};

}  // namespace

std::string credential_key(const std::string& domain) {
    return is_docker_hub(domain) ? kDockerHubKey : domain;
}

std::string login_domain(const std::string& server) {
    std::string host = key_hostname(server);
    std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
    if (host.empty() || is_docker_hub(host)) return "docker.io";
    return host;
}

CredentialStore::CredentialStore(std::string config_dir)
    : dir_(config_dir.empty() ? default_dir() : std::move(config_dir)) {}

std::string CredentialStore::default_dir() {
    if (const char* env = std::getenv("DOCKER_CONFIG"); env && *env) return env;
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.docker";
    if (passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return std::string(pw->pw_dir) + "/.docker";
    throw Error("cannot find the docker config dir: neither DOCKER_CONFIG nor HOME is set");
}

std::optional<Credential> CredentialStore::get(const std::string& domain) {
    std::string key = credential_key(domain);
    ConfigFile file(dir_);
    if (auto helper = file.helper_for(key)) return CredentialHelper(*helper).get(key);
    return file.file_credential(key);
}

void CredentialStore::store(const std::string& domain, const Credential& credential) {
    std::string key = credential_key(domain);
    ConfigFile file(dir_);
    auto& auths = file.auths();
    if (auto old = file.find_auth_key(key); old && *old != key) auths.erase(*old);
    if (auto helper = file.helper_for(key)) {
        CredentialHelper(*helper).store(key, credential);
        // As the docker CLI does: an empty entry says the registry has credentials elsewhere.
        auths[key] = nlohmann::json::object();
    } else {
        nlohmann::json entry = nlohmann::json::object();
        if (credential.identity_token) {
            entry["auth"] = base64_encode(credential.username + ":");
            entry["identitytoken"] = credential.secret;
        } else {
            entry["auth"] = base64_encode(credential.username + ":" + credential.secret);
        }
        auths[key] = entry;
    }
    file.save(dir_);
}

bool CredentialStore::stores_in_file(const std::string& domain) {
    return !ConfigFile(dir_).helper_for(credential_key(domain));
}

bool CredentialStore::erase(const std::string& domain) {
    std::string key = credential_key(domain);
    ConfigFile file(dir_);
    bool erased = false;
    if (auto helper = file.helper_for(key)) erased = CredentialHelper(*helper).erase(key);
    if (auto found = file.find_auth_key(key)) {
        file.auths().erase(*found);
        file.save(dir_);
        erased = true;
    }
    return erased;
}

}  // namespace kiln::registry
