#pragma once
// Requests to one registry endpoint with what every request needs: credentials and bearer
// tokens (a 401 is answered once), the insecure HTTPS → HTTP fallback, redirects where the
// caller allows them (never carrying Authorization to another host), and retries with backoff
// for transient failures. Thread-safe.
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "registry/http.hpp"
#include "registry/session_state.hpp"
#include "util/error.hpp"

namespace kiln::registry {

// A mirror that cannot be reached: the caller moves on to the next endpoint.
class EndpointDown : public Error {
public:
    using Error::Error;
};

// Builds a request afresh for each attempt (a body reader restarts with it).
using RequestFactory = std::function<http::Request()>;
// A request without body or extra headers (the URL is read when the request is made).
RequestFactory bare_request(std::string method, const std::string& url);

struct ExchangeResult {
    std::optional<http::Response> response;
    http::TransferError error;  // when there is no response
    int attempts = 1;
};

class Transport {
public:
    // Attempts per request before giving up (connect errors, resets, 5xx, 429).
    static constexpr int kAttempts = 4;
    // Attempts while a registry refuses connections, for uploads: such a registry is most
    // likely restarting, and a push should outlast that (about 16 s of backoff in all; the
    // docker CLI retries a layer push for about a minute).
    static constexpr int kUnreachableAttempts = 8;
    // How many attempts a failed exchange allows: `unreachable` when nothing accepted the
    // connection, else kAttempts.
    static int attempt_limit(const ExchangeResult& r, int unreachable);

    Transport(Session::State& state, Endpoint endpoint, std::vector<std::string> scopes);

    const Endpoint& endpoint() const { return endpoint_; }
    // The URL of an API path ("/v2/library/busybox/manifests/latest") on this endpoint.
    std::string url(const std::string& api_path) const;
    // Uses this credential instead of the stored one (login checks a credential before it is
    // stored).
    void use_credential(Credential credential) { override_ = std::move(credential); }
    // Widens the token scopes (a mount needs pull on the source repository too).
    void add_scopes(const std::vector<std::string>& scopes);

    // One exchange (no retries): auth, one answer to a 401, fallback, up to max_redirects hops.
    ExchangeResult exchange(const RequestFactory& make, int max_redirects = 0);
    // exchange() retried with backoff while the failure is transient. Returns the last
    // response whatever its status; throws (naming the registry and `what`) when every
    // attempt failed in transfer or with a retryable status.
    // unreachable_attempts: the attempts allowed while the registry refuses connections.
    http::Response send(const RequestFactory& make, const std::string& what, int max_redirects = 0,
                        int unreachable_attempts = kAttempts);

    // Sleeps before attempt number `attempt` (1-based) after a failure; a 429/503 answer's
    // Retry-After is honoured (capped).
    static void backoff(int attempt, const http::Response* response);
    static bool retryable(const http::Response& r);
    static bool retryable(const http::TransferError& e);

    // "registry HOST: WHAT: CODE: message" from an error answer.
    std::string describe(const std::string& what, const http::Response& r) const;
    [[noreturn]] void fail(const std::string& what, const http::Response& r) const;
    [[noreturn]] void fail(const std::string& what, const http::TransferError& e, int attempts) const;

private:
    std::optional<std::string> authorization(bool refresh);
    std::string token_key() const;
    void learn_challenge(const http::Response& r);
    void show_warnings(const http::Response& r);
    std::string base() const;
    std::optional<Credential> credential();

    Session::State& state_;
    Endpoint endpoint_;
    mutable std::mutex scopes_mutex_;
    std::vector<std::string> scopes_;
    std::optional<Credential> override_;
};

// The registry's JSON error body as "CODE: message" (first error), or "" when there is none.
std::string registry_error_text(const std::string& body);

}  // namespace kiln::registry
