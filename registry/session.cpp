#include "registry/session.hpp"

#include <dirent.h>

#include <algorithm>
#include <iostream>

#include "registry/session_state.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::registry {

Session::Session(Settings settings, CredentialStore credentials)
    : state_(std::make_unique<State>(std::move(settings), std::move(credentials))) {}
Session::~Session() = default;

const Settings& Session::settings() const { return state_->settings; }
CredentialStore& Session::credentials() { return state_->credentials; }
Session::State& Session::state() { return *state_; }

std::unique_ptr<Session> open_session(const std::string& config_dir) {
    return std::make_unique<Session>(load_settings(settings_path()), CredentialStore(config_dir));
}

std::optional<Credential> Session::State::credential_for(const std::string& host) {
    {
        std::lock_guard lock(mutex);
        if (auto it = credential_cache.find(host); it != credential_cache.end()) return it->second;
    }
    // Outside the lock: a helper may take a while; two threads asking at once both run it.
    std::string domain = host == kDockerHubApiHost ? "docker.io" : host;
    auto c = credentials.get(domain);
    std::lock_guard lock(mutex);
    credential_cache[host] = c;
    return c;
}

http::TlsOptions load_certs_dir(const std::string& certs_dir, const std::string& host, bool* has_ca) {
    http::TlsOptions tls;
    *has_ca = false;
    if (certs_dir.empty()) return tls;
    // Docker's folder name for an IPv6 host keeps the brackets; ':' is fine in a file name.
    std::string dir = safe_join(certs_dir, host);
    DIR* d = opendir(dir.c_str());
    if (!d) return tls;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        if (name.ends_with(".crt")) {
            tls.ca_pem += read_file(dir + "/" + name);
            tls.ca_pem += "\n";
            *has_ca = true;
        }
    }
    bool cert = path_exists(dir + "/client.cert"), key = path_exists(dir + "/client.key");
    if (cert != key)
        throw Error(dir + ": " + (cert ? "client.cert without client.key" : "client.key without client.cert"));
    if (cert) {
        tls.client_cert = dir + "/client.cert";
        tls.client_key = dir + "/client.key";
    }
    return tls;
}

std::vector<Endpoint> Session::State::endpoints(const std::string& domain, bool for_push) {
    std::vector<Endpoint> out;
    auto make = [&](const std::string& base, bool mirror) {
        Endpoint e;
        e.base = base;
        e.host = http::url_authority(base);
        e.mirror = mirror;
        e.tls = load_certs_dir(settings.certs_dir, e.host, &e.has_ca);
        return e;
    };
    bool hub = domain == "docker.io" || domain == "index.docker.io";
    if (hub) {
        // Mirrors serve pulls only, as in Docker.
        if (!for_push)
            for (const auto& m : settings.registry_mirrors) {
                Endpoint e = make(m, true);
                if (e.base.starts_with("https://") && settings.is_insecure(e.host)) e.tls.verify = e.has_ca;
                out.push_back(std::move(e));
            }
        out.push_back(make(std::string("https://") + kDockerHubApiHost, false));
        return out;
    }
    Endpoint e = make("https://" + domain, false);
    if (settings.is_insecure(domain)) {
        e.http_fallback = true;
        // Stricter than Docker in one way: a CA the user put in certs.d is checked even for an
        // insecure registry; without one, TLS is not verified (Docker's behaviour).
        e.tls.verify = e.has_ca;
    }
    out.push_back(std::move(e));
    return out;
}

bool Session::State::mirror_dead(const std::string& base) {
    std::lock_guard lock(mutex);
    return dead_mirrors.count(base) != 0;
}

void Session::State::mark_mirror_dead(const std::string& base) {
    std::lock_guard lock(mutex);
    dead_mirrors.insert(base);
}

void Session::State::warn_once(const std::string& host, const std::string& text) {
    std::lock_guard lock(mutex);
    if (!warnings_shown.insert(host + "\n" + text).second) return;
    std::cerr << "WARNING: registry " << host << ": " << text << std::endl;
}

}  // namespace kiln::registry
