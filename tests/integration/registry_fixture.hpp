#pragma once
// Real registries for kiln's registry tests: Debian's docker-registry (distribution 2.8)
// on 127.0.0.1, a free port and storage of its own, stopped and removed with the object.
// Tests use it from outside, like any client would; nothing here links kiln's registry/.
//
//   REQUIRE_REGISTRY();                       // WARNs and returns if docker-registry is absent
//   RegistryServer reg;                       // plain HTTP
//   reg.host()                                // "127.0.0.1:PORT", what kiln is given
//   RegistryServer tls({.tls = true});        // HTTPS; tls.ca_cert() is the CA to trust:
//   tls.install_ca(certs_d)                   //   certs_d/127.0.0.1:PORT/ca.crt for kiln
//   RegistryServer mtls({.tls = true, .client_cert = true});  // also demands a client cert:
//   mtls.install_ca(certs_d, true)            //   + client.cert / client.key beside ca.crt
//   RegistryServer basic({.htpasswd = {{"alice", "pw"}}});     // basic auth
//   RegistryServer tok({.token_users = {{"alice", "pw"}}});    // token auth (tools/token_server.py):
//       anonymous may pull anything; a user may pull anything and push/delete under "USER/"
//       (and "USER"); users in token_admins may do everything. tok.token_log() lists each
//       token request (account, requested scopes, granted scopes) to assert caching.
//   RegistryServer flaky({.fault_proxy = true});               // host() is a proxy (tools/fault_proxy.py):
//       flaky.proxy().fail(503, "/blobs/", 1) / corrupt("/blobs/") / slow(...) / drop(...) /
//       hang(...) / redirect(...),
//       flaky.proxy().log() lists the requests it saw (method, path, Range, auth scheme...).
//   reg.kill(); reg.restart();                // crash mid-operation; same port and storage
//   std::string digest = push_test_image(reg, "busybox:1");   // an image pushed by skopeo
//
// Every wait is bounded; every process dies with the object (or with the test process).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "util/fs.hpp"

// Registry tests need /usr/bin/docker-registry (scripts/setup installs it); without it
// each one says so and passes. Catch2's WARN, so the file using it includes catch.hpp.
#define REQUIRE_REGISTRY()                                                              \
    do {                                                                                \
        if (!kiln::test::registry_available()) {                                       \
            WARN("skipped: needs /usr/bin/docker-registry (apt-get install docker-registry)"); \
            return;                                                                     \
        }                                                                               \
    } while (0)

namespace kiln::test {

// True when /usr/bin/docker-registry (and the tools the fixture runs) are installed.
bool registry_available();

// One CA per test process, with a server certificate for 127.0.0.1 and localhost, a client
// certificate, and a self-signed token-signing certificate. Made with the openssl CLI on
// first use; removed at exit.
struct TestPki {
    std::string ca_cert, ca_key;
    std::string server_cert, server_key;
    std::string client_cert, client_key;  // signed by the CA, extendedKeyUsage clientAuth
    std::string token_cert, token_key;    // signs the token server's JWTs (RS256, x5c)
};
const TestPki& test_pki();

// One request the fault proxy saw. Header values are logged only where harmless: of
// Authorization only its scheme ("Basic", "Bearer" or "" when absent).
struct ProxyRequest {
    std::string method, path, query;
    int status = 0;          // what the client got (0: the connection was dropped first)
    std::string action;      // "forward", "fail", "corrupt", "slow", "drop-request", "drop-response"
    std::string range, content_range, content_type, auth_scheme;
    long long request_bytes = 0, response_bytes = 0;
    double time = 0;         // seconds on the proxy's monotonic clock when the request came
};

// The fault-injection proxy in front of a registry. Rules apply in order of addition; the
// first whose method and path pattern (a Python regex, searched in the path) match a
// request, and that has uses left, acts on it. count < 0: forever.
class FaultProxy {
public:
    // tls: HTTPS on both sides; client_cert: demand a client certificate like the registry,
    // and show test_pki()'s upstream.
    FaultProxy(const std::string& dir, const std::string& upstream, bool tls, bool client_cert);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    int port() const { return port_; }

    // Answer with `status` (and Retry-After if given) instead of forwarding.
    void fail(int status, const std::string& path_pattern, int count = 1, const std::string& method = "",
              const std::string& retry_after = "");
    // Forward, but flip bytes of the response body (same length): for blob GETs.
    void corrupt(const std::string& path_pattern = "/blobs/sha256:", int count = 1,
                 const std::string& method = "GET");
    // Forward, sleeping delay_ms after every chunk_bytes of the response body.
    void slow(const std::string& path_pattern, int delay_ms, int chunk_bytes = 16384, int count = -1,
              const std::string& method = "");
    // Cut the connection after `bytes` of the request body (upload) or response body.
    enum class Direction { request, response };
    void drop(Direction direction, long long bytes, const std::string& path_pattern, int count = 1,
              const std::string& method = "");
    // Read the request, then answer nothing for delay_ms and close (nothing is forwarded).
    void hang(const std::string& path_pattern, int delay_ms, int count = -1, const std::string& method = "");
    // Answer `status` with Location: location_base + the request's path and query.
    void redirect(const std::string& path_pattern, const std::string& location_base, int count = -1,
                  const std::string& method = "GET", int status = 307);
    // Removes every rule.
    void clear();

    // The requests seen so far, oldest first; clear_log() forgets them.
    std::vector<ProxyRequest> log() const;
    void clear_log();
    // Restarts the proxy process (the rules' use counts start over).
    void restart();

private:
    void add_rule(const std::string& rule_json);
    void start();

    std::string dir_, upstream_;
    bool tls_, client_cert_;
    int port_ = 0;
    int next_rule_id_ = 1;
    std::vector<std::string> rules_;
    ChildProcess process_;
};

struct RegistryOptions {
    bool tls = false;          // HTTPS with test_pki()'s server certificate
    bool client_cert = false;  // (with tls) demand a client certificate signed by the CA
    // htpasswd basic auth for these users (user → password), bcrypt via `htpasswd -B`.
    std::map<std::string, std::string> htpasswd{};
    // Token auth through tools/token_server.py for these users (user → password).
    std::map<std::string, std::string> token_users{};
    std::vector<std::string> token_admins{};  // may push, pull and delete everything
    int token_expires_in = 300;
    bool fault_proxy = false;  // host() is tools/fault_proxy.py in front of the registry
};

class RegistryServer {
public:
    explicit RegistryServer(RegistryOptions options = {});
    ~RegistryServer();
    RegistryServer(const RegistryServer&) = delete;
    RegistryServer& operator=(const RegistryServer&) = delete;

    // What a client uses: the proxy's address when there is one, else the registry's.
    std::string host() const;
    // "http://HOST" or "https://HOST".
    std::string url() const;
    // The registry's own port (behind the proxy, if any).
    int registry_port() const { return port_; }
    bool tls() const { return options_.tls; }
    const RegistryOptions& options() const { return options_; }
    const std::string& ca_cert() const { return test_pki().ca_cert; }
    // Writes CERTS_D/HOST/ca.crt (and client.cert, client.key when with_client_cert) the way
    // kiln and docker read certs.d; returns that directory.
    std::string install_ca(const std::string& certs_d, bool with_client_cert = false) const;

    // The registry's storage root (docker/registry/v2/... below it) and its log file.
    std::string storage_dir() const { return dir_.path() + "/storage"; }
    std::string log_path() const { return dir_.path() + "/registry.log"; }
    std::string log() const;

    // SIGKILL the registry (an in-flight request sees its connection die).
    void kill();
    // Starts it again on the same port with the same storage (stops it first if running).
    void restart();
    bool running();

    // The token server's log: one entry per request.
    struct TokenRequest {
        std::string method, account;  // account "" for anonymous
        std::string grant_type;       // a POST's grant_type ("password", "refresh_token")
        std::vector<std::string> scopes, granted;
        int status = 0;
    };
    std::vector<TokenRequest> token_log() const;
    std::string token_realm() const { return token_realm_; }
    static constexpr const char* token_service = "kiln-test-registry";

    FaultProxy& proxy();

private:
    void write_config();
    void start_registry();
    void start_token_server();

    RegistryOptions options_;
    TempDir dir_{"/tmp", "kiln-registry-"};
    int port_ = 0;
    std::string token_realm_;
    ChildProcess registry_;
    ChildProcess token_server_;
    std::unique_ptr<FaultProxy> proxy_;
};

// What push_test_image pushes, and as whom.
struct TestImage {
    std::string marker{};        // non-empty: the layer also holds /etc/kiln-test-marker with it
    bool docker_format = false;  // Docker schema 2 media types instead of OCI
    std::string user{};          // "" : the first token admin, else the first user, if any
};

// Pushes a one-layer image (busybox-static's /bin/busybox, /bin/sh a link to it) to server
// as REPO:TAG with skopeo, not kiln (through the proxy, if any, and with the fixture's CA
// and client certificate under TLS). Returns the manifest digest ("sha256:...").
std::string push_test_image(const RegistryServer& server, const std::string& repo_tag, const TestImage& image = {});

}  // namespace kiln::test
