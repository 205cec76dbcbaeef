#pragma once
// registry/ internals: what a Session shares between every request of one kiln command.
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "registry/auth.hpp"
#include "registry/credentials.hpp"
#include "registry/http.hpp"
#include "registry/session.hpp"

namespace kiln::registry {

// One place a registry's API is reached at.
struct Endpoint {
    std::string base;  // "https://registry-1.docker.io", "http://127.0.0.1:5001/prefix"
    std::string host;  // its authority: credentials, tokens and redirects are keyed by it
    http::TlsOptions tls;
    bool mirror = false;
    // An insecure registry: HTTPS first, plain HTTP when HTTPS does not answer (as Docker).
    bool http_fallback = false;
    // certs.d gave a CA for this host: its certificate is verified even when insecure.
    bool has_ca = false;
};

struct Session::State {
    Settings settings;
    CredentialStore credentials;
    http::Client client;

    std::mutex mutex;  // guards everything below
    std::set<std::string> dead_mirrors;
    std::map<std::string, std::string> chosen_base;  // an insecure host → the base that answered
    std::map<std::string, auth::Challenge> challenges;  // host → its last challenge
    std::map<std::string, auth::Token> tokens;          // host + scopes → token
    std::map<std::string, std::optional<Credential>> credential_cache;
    std::set<std::string> warnings_shown;

    State(Settings s, CredentialStore c) : settings(std::move(s)), credentials(std::move(c)) {}

    // The credential for a host, read once per command (a helper runs once).
    std::optional<Credential> credential_for(const std::string& host);
    // The endpoints to try for a registry domain, in order (mirrors first for docker.io pulls).
    std::vector<Endpoint> endpoints(const std::string& domain, bool for_push);
    bool mirror_dead(const std::string& base);
    void mark_mirror_dead(const std::string& base);
    // Prints a registry's `Warning: 299 - "text"` header once per command.
    void warn_once(const std::string& host, const std::string& text);
};

// The host Docker's docker.io names are served from.
inline constexpr const char* kDockerHubApiHost = "registry-1.docker.io";

// The TLS settings certs.d gives a host[:port]: every *.crt as a CA, client.cert + client.key.
http::TlsOptions load_certs_dir(const std::string& certs_dir, const std::string& host, bool* has_ca);

}  // namespace kiln::registry
