#include "registry_fixture.hpp"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness.hpp"
#include "util/error.hpp"

namespace kiln::test {

namespace {

const std::string registry_binary = "/usr/bin/docker-registry";
const std::string tools_dir = KILN_SOURCE_DIR "/tests/integration/tools";

// Runs a setup command; throws with its stderr if it fails.
std::string must_run(const std::vector<std::string>& argv, const std::string& input = "") {
    CommandResult r = run_command(argv, input);
    if (r.exit_code != 0) throw Error(argv[0] + " failed (" + std::to_string(r.exit_code) + "): " + r.err);
    return r.out;
}

// A key and a certificate signed by the CA at dir/ca.{key,crt}, with these extensions.
void make_signed_cert(const std::string& dir, const std::string& name, const std::string& subject,
                      const std::string& extensions) {
    must_run({"openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/" + name + ".key",
              "-out", dir + "/" + name + ".csr", "-subj", subject});
    atomic_write(dir + "/" + name + ".ext", extensions);
    must_run({"openssl", "x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.crt", "-CAkey",
              dir + "/ca.key", "-CAcreateserial", "-days", "3", "-sha256", "-extfile", dir + "/" + name + ".ext",
              "-out", dir + "/" + name + ".crt"});
}

}  // namespace

bool registry_available() {
    return ::access(registry_binary.c_str(), X_OK) == 0 && ::access("/usr/bin/openssl", X_OK) == 0 &&
           ::access("/usr/bin/python3", X_OK) == 0;
}

const TestPki& test_pki() {
    // A function-local static: made once, thread-safe, and removed (TempDir) at exit.
    static const auto dir = [] {
        auto tmp = std::make_unique<TempDir>("/tmp", "kiln-test-pki-");
        const std::string d = tmp->path();
        must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key", "-out",
                  d + "/ca.crt", "-days", "3", "-sha256", "-subj", "/CN=kiln test CA", "-addext",
                  "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
        make_signed_cert(d, "server", "/CN=127.0.0.1",
                         "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                         "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
        make_signed_cert(d, "client", "/CN=kiln test client",
                         "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                         "extendedKeyUsage=clientAuth\n");
        // The registry trusts this certificate itself (auth.token.rootcertbundle); the token
        // server names it in each JWT's x5c header.
        must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/token.key", "-out",
                  d + "/token.crt", "-days", "3", "-sha256", "-subj", "/CN=kiln test token issuer"});
        return tmp;
    }();
    static const TestPki pki = [] {
        const std::string d = dir->path();
        return TestPki{d + "/ca.crt",     d + "/ca.key",     d + "/server.crt", d + "/server.key",
                       d + "/client.crt", d + "/client.key", d + "/token.crt",  d + "/token.key"};
    }();
    return pki;
}

RegistryServer::RegistryServer(RegistryOptions options) : options_(std::move(options)) {
    if (options_.client_cert && !options_.tls) throw Error("RegistryServer: client_cert needs tls");
    if (!options_.htpasswd.empty() && !options_.token_users.empty())
        throw Error("RegistryServer: htpasswd and token auth are exclusive");
    mkdir_p(storage_dir());
    if (!options_.token_users.empty()) start_token_server();
    // The port is picked before the registry binds it: if another process takes it in
    // between, the registry exits at once and a new port is tried.
    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        write_config();
        try {
            start_registry();
            break;
        } catch (const Error&) {
            if (attempt == 3 || port_open(port_) == false) throw;
        }
    }
    if (options_.fault_proxy)
        proxy_ = std::make_unique<FaultProxy>(dir_.path() + "/proxy", "127.0.0.1:" + std::to_string(port_),
                                              options_.tls, options_.client_cert);
}

RegistryServer::~RegistryServer() {
    proxy_.reset();
    registry_.stop();
    token_server_.stop();
}

void RegistryServer::write_config() {
    const std::string d = dir_.path();
    std::ostringstream yml;
    yml << "version: 0.1\n"
           "log:\n  level: info\n  formatter: text\n"
           "storage:\n"
           "  filesystem:\n    rootdirectory: " << storage_dir() << "\n"
           "  delete:\n    enabled: true\n"
           "  maintenance:\n    uploadpurging:\n      enabled: false\n"
           "http:\n"
           "  addr: 127.0.0.1:" << port_ << "\n"
           // A fixed secret: upload state signed before a restart() stays valid after it.
           "  secret: kiln-test-registry-secret\n"
           "  headers:\n    X-Content-Type-Options: [nosniff]\n";
    if (options_.tls) {
        const TestPki& pki = test_pki();
        yml << "  tls:\n    certificate: " << pki.server_cert << "\n    key: " << pki.server_key << "\n";
        if (options_.client_cert) yml << "    clientcas:\n      - " << pki.ca_cert << "\n";
    }
    if (!options_.htpasswd.empty()) {
        std::string users;
        for (const auto& [user, password] : options_.htpasswd)
            users += must_run({"htpasswd", "-Bbn", user, password});
        atomic_write(d + "/htpasswd", users);
        yml << "auth:\n  htpasswd:\n    realm: kiln-test\n    path: " << d << "/htpasswd\n";
    } else if (!options_.token_users.empty()) {
        yml << "auth:\n  token:\n    realm: " << token_realm_ << "\n    service: " << token_service
            << "\n    issuer: kiln-test-issuer\n    rootcertbundle: " << test_pki().token_cert << "\n";
    }
    atomic_write(d + "/config.yml", yml.str());
}

void RegistryServer::start_registry() {
    registry_ = ChildProcess({registry_binary, "serve", dir_.path() + "/config.yml"}, log_path());
    wait_for_port(registry_, port_, log_path(), "docker-registry");
}

void RegistryServer::start_token_server() {
    const std::string d = dir_.path() + "/token";
    mkdir_p(d);
    nlohmann::json users = nlohmann::json::object();
    for (const auto& [user, password] : options_.token_users) users[user] = password;
    nlohmann::json config = {{"users", users},
                             {"admins", options_.token_admins},
                             {"service", token_service},
                             {"issuer", "kiln-test-issuer"},
                             {"expires_in", options_.token_expires_in},
                             {"key", test_pki().token_key},
                             {"cert", test_pki().token_cert},
                             {"log", d + "/requests.jsonl"}};
    if (options_.tls)
        config["tls"] = {{"cert", test_pki().server_cert}, {"key", test_pki().server_key}};
    atomic_write(d + "/config.json", config.dump(), 0600);
    token_server_ = ChildProcess({"/usr/bin/python3", "-B", tools_dir + "/token_server.py", d + "/config.json", d + "/port"},
                                 d + "/server.log");
    int port = wait_for_port_file(token_server_, d + "/port", d + "/server.log", "token_server.py");
    token_realm_ = std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port) + "/token";
}

std::string RegistryServer::host() const {
    return "127.0.0.1:" + std::to_string(proxy_ ? proxy_->port() : port_);
}

std::string RegistryServer::url() const { return std::string(options_.tls ? "https://" : "http://") + host(); }

std::string RegistryServer::install_ca(const std::string& certs_d, bool with_client_cert) const {
    const std::string d = certs_d + "/" + host();
    mkdir_p(d);
    const TestPki& pki = test_pki();
    atomic_write(d + "/ca.crt", read_file(pki.ca_cert));
    if (with_client_cert) {
        atomic_write(d + "/client.cert", read_file(pki.client_cert));
        atomic_write(d + "/client.key", read_file(pki.client_key), 0600);
    }
    return d;
}

std::string RegistryServer::log() const { return path_exists(log_path()) ? read_file(log_path()) : ""; }

void RegistryServer::kill() { registry_.kill(); }

void RegistryServer::restart() {
    registry_.stop();
    start_registry();
}

bool RegistryServer::running() { return registry_.running(); }

std::vector<RegistryServer::TokenRequest> RegistryServer::token_log() const {
    std::vector<TokenRequest> out;
    const std::string path = dir_.path() + "/token/requests.jsonl";
    if (!path_exists(path)) return out;
    std::istringstream lines(read_file(path));
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        auto j = nlohmann::json::parse(line);
        out.push_back({j.value("method", ""), j.value("account", ""), j.value("grant_type", ""),
                       j.value("scopes", std::vector<std::string>{}), j.value("granted", std::vector<std::string>{}),
                       j.value("status", 0)});
    }
    return out;
}

FaultProxy& RegistryServer::proxy() {
    if (!proxy_) throw Error("RegistryServer: started without fault_proxy");
    return *proxy_;
}

}  // namespace kiln::test
