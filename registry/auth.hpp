#pragma once
// Registry authentication: WWW-Authenticate challenges (RFC 7235), the scopes a request needs,
// and the bearer token flow of Docker's token specification.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "registry/credentials.hpp"
#include "registry/http.hpp"

namespace kiln::registry::auth {

struct Challenge {
    std::string scheme;                         // lower case: "basic", "bearer"
    std::map<std::string, std::string> params;  // keys lower case, values unquoted

    std::string param(const std::string& key) const {
        auto it = params.find(key);
        return it == params.end() ? std::string() : it->second;
    }
};

// Every challenge in one or more WWW-Authenticate header values, in order. Malformed parts are
// skipped, never thrown on: a registry's header is untrusted input.
std::vector<Challenge> parse_challenges(const std::vector<std::string>& header_values);

// "repository:NAME:ACTIONS" scopes.
std::string repository_scope(const std::string& path, bool push);
inline const std::string kCatalogScope = "registry:catalog:*";
// Space-separated scope list (as in a challenge's scope param) → scopes.
std::vector<std::string> split_scopes(const std::string& text);
// Merges scope lists: one entry per resource (type:name), with the union of their actions,
// sorted, so equal needs give equal cache keys. Names may contain ':' (a host:port).
std::vector<std::string> merge_scopes(const std::vector<std::string>& scopes);

struct Token {
    std::string value;  // never printed
    std::chrono::steady_clock::time_point expires;
    std::string refresh_token;  // from an OAuth2 answer asked for offline access; may be empty
};

struct TokenRequest {
    std::string registry;  // host the token is for (for messages)
    Challenge challenge;   // a bearer challenge: realm, service
    std::vector<std::string> scopes;
    std::optional<Credential> credential;
    bool offline = false;  // ask for a refresh token (login)
    http::TlsOptions tls;  // for the realm when it is the registry's own host
};

// Asks the realm for a token: OAuth2 POST with the refresh token when the credential is an
// identity token (GET when the realm does not take POST), else GET with Basic auth when there
// is a credential, anonymous otherwise. Throws kiln::Error naming the registry; an answer of
// 401 says the credentials were refused.
Token fetch_token(http::Client& client, const TokenRequest& request);

// Parses a token server's JSON answer (`token` or `access_token`, `expires_in` default 60).
Token parse_token_response(const std::string& body, const std::string& registry);

// "Basic base64(user:secret)" header value.
std::string basic_authorization(const Credential& credential);

}  // namespace kiln::registry::auth
