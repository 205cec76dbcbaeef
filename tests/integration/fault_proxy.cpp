// The C++ side of tools/fault_proxy.py: starts it, writes its rules file, reads its log.
#include <nlohmann/json.hpp>
#include <sstream>

#include "registry_fixture.hpp"
#include "util/error.hpp"

namespace kiln::test {

namespace {
const std::string proxy_script = KILN_SOURCE_DIR "/tests/integration/tools/fault_proxy.py";
}

FaultProxy::FaultProxy(const std::string& dir, const std::string& upstream, bool tls, bool client_cert)
    : dir_(dir), upstream_(upstream), tls_(tls), client_cert_(client_cert) {
    mkdir_p(dir_);
    clear();
    start();
}

FaultProxy::~FaultProxy() { process_.stop(); }

void FaultProxy::start() {
    remove_all(dir_ + "/port");
    nlohmann::json config = {{"upstream", upstream_},
                             {"rules", dir_ + "/rules.json"},
                             {"log", dir_ + "/requests.jsonl"},
                             {"port_file", dir_ + "/port"}};
    if (tls_) {
        const TestPki& pki = test_pki();
        config["tls"] = {{"cert", pki.server_cert}, {"key", pki.server_key}, {"ca", pki.ca_cert}};
        if (client_cert_) {
            config["tls"]["client_ca"] = pki.ca_cert;
            config["tls"]["client_cert"] = pki.client_cert;
            config["tls"]["client_key"] = pki.client_key;
        }
    }
    atomic_write(dir_ + "/config.json", config.dump());
    process_ = ChildProcess({"/usr/bin/python3", "-B", proxy_script, dir_ + "/config.json"}, dir_ + "/proxy.log");
    port_ = wait_for_port_file(process_, dir_ + "/port", dir_ + "/proxy.log", "fault_proxy.py");
}

void FaultProxy::restart() {
    process_.stop();
    start();
}

void FaultProxy::add_rule(const std::string& rule_json) {
    auto rule = nlohmann::json::parse(rule_json);
    rule["id"] = next_rule_id_++;
    rules_.push_back(rule.dump());
    std::string all = "[";
    for (std::size_t i = 0; i < rules_.size(); ++i) all += (i ? "," : "") + rules_[i];
    atomic_write(dir_ + "/rules.json", all + "]");
}

void FaultProxy::fail(int status, const std::string& path_pattern, int count, const std::string& method,
                      const std::string& retry_after) {
    add_rule(nlohmann::json{{"action", "fail"}, {"status", status}, {"path", path_pattern}, {"count", count},
                            {"method", method}, {"retry_after", retry_after}}
                 .dump());
}

void FaultProxy::corrupt(const std::string& path_pattern, int count, const std::string& method) {
    add_rule(nlohmann::json{{"action", "corrupt"}, {"path", path_pattern}, {"count", count}, {"method", method}}
                 .dump());
}

void FaultProxy::slow(const std::string& path_pattern, int delay_ms, int chunk_bytes, int count,
                      const std::string& method) {
    add_rule(nlohmann::json{{"action", "slow"},
                            {"path", path_pattern},
                            {"delay_ms", delay_ms},
                            {"chunk_bytes", chunk_bytes},
                            {"count", count},
                            {"method", method}}
                 .dump());
}

void FaultProxy::drop(Direction direction, long long bytes, const std::string& path_pattern, int count,
                      const std::string& method) {
    add_rule(nlohmann::json{{"action", direction == Direction::request ? "drop-request" : "drop-response"},
                            {"bytes", bytes},
                            {"path", path_pattern},
                            {"count", count},
                            {"method", method}}
                 .dump());
}

void FaultProxy::hang(const std::string& path_pattern, int delay_ms, int count, const std::string& method) {
    add_rule(nlohmann::json{
        {"action", "hang"}, {"path", path_pattern}, {"delay_ms", delay_ms}, {"count", count}, {"method", method}}
                 .dump());
}

void FaultProxy::redirect(const std::string& path_pattern, const std::string& location_base, int count,
                          const std::string& method, int status) {
    add_rule(nlohmann::json{{"action", "redirect"},
                            {"status", status},
                            {"location", location_base},
                            {"path", path_pattern},
                            {"count", count},
                            {"method", method}}
                 .dump());
}

void FaultProxy::clear() {
    rules_.clear();
    atomic_write(dir_ + "/rules.json", "[]");
}

std::vector<ProxyRequest> FaultProxy::log() const {
    std::vector<ProxyRequest> out;
    const std::string path = dir_ + "/requests.jsonl";
    if (!path_exists(path)) return out;
    std::istringstream lines(read_file(path));
    for (std::string line; std::getline(lines, line);) {
        // The proxy writes whole lines; a line being written right now may be cut short.
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        ProxyRequest r;
        r.method = j.value("method", "");
        r.path = j.value("path", "");
        r.query = j.value("query", "");
        r.status = j.value("status", 0);
        r.action = j.value("action", "");
        r.range = j.value("range", "");
        r.content_range = j.value("content_range", "");
        r.content_type = j.value("content_type", "");
        r.auth_scheme = j.value("auth_scheme", "");
        r.request_bytes = j.value("request_bytes", 0LL);
        r.response_bytes = j.value("response_bytes", 0LL);
        r.time = j.value("time", 0.0);
        out.push_back(std::move(r));
    }
    return out;
}

void FaultProxy::clear_log() { atomic_write(dir_ + "/requests.jsonl", ""); }

}  // namespace kiln::test
