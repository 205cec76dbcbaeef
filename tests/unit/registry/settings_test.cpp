#include <catch2/catch.hpp>

#include "registry/settings.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln;
using namespace kiln::registry;

namespace {

std::string error_of(const std::string& path) {
    try {
        load_settings(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("an absent settings file gives defaults with certs.d beside it", "[registry][settings]") {
    TempDir dir("/tmp", "kiln-settings-test-");
    Settings s = load_settings(dir.path() + "/config.json");
    CHECK(s.registry_mirrors.empty());
    CHECK(s.insecure_registries.empty());
    CHECK(s.certs_dir == dir.path() + "/certs.d");
    CHECK(s.is_insecure("localhost:5000"));
    CHECK(s.is_insecure("127.0.0.1:5000"));
    CHECK(s.is_insecure("[::1]:443"));
    CHECK_FALSE(s.is_insecure("registry.example"));
}

TEST_CASE("mirrors and insecure registries are read and checked", "[registry][settings]") {
    TempDir dir("/tmp", "kiln-settings-test-");
    std::string path = dir.path() + "/config.json";
    atomic_write(path, R"({"registry-mirrors": ["https://mirror.example/", "http://127.0.0.1:5001"],
                           "insecure-registries": ["reg.example:5000", "10.0.0.0/8", "fd00::/8"],
                           "log-level": "debug"})");
    Settings s = load_settings(path);
    CHECK(s.registry_mirrors == std::vector<std::string>{"https://mirror.example", "http://127.0.0.1:5001"});
    CHECK(s.is_insecure("reg.example:5000"));
    CHECK_FALSE(s.is_insecure("reg.example:5001"));
    CHECK(s.is_insecure("10.1.2.3:5000"));
    CHECK(s.is_insecure("[fd00::1]:5000"));
    CHECK_FALSE(s.is_insecure("11.1.2.3:5000"));
}

TEST_CASE("a malformed settings file names the file and the key", "[registry][settings]") {
    TempDir dir("/tmp", "kiln-settings-test-");
    std::string path = dir.path() + "/config.json";
    atomic_write(path, R"({"registry-mirrors": ["https://ok.example", "not a url"]})");
    CHECK(error_of(path) == path + ": registry-mirrors[1]: not a URL");
    atomic_write(path, R"({"registry-mirrors": "https://ok.example"})");
    CHECK(error_of(path) == path + ": registry-mirrors: not an array");
    atomic_write(path, R"({"registry-mirrors": ["https://m.example/?x=1"]})");
    CHECK(error_of(path) == path + ": registry-mirrors[0]: not a URL");
    atomic_write(path, R"({"insecure-registries": ["10.0.0.0/33"]})");
    CHECK(error_of(path) == path + ": insecure-registries[0]: not a host[:port] or a CIDR");
    atomic_write(path, R"({"insecure-registries": [5]})");
    CHECK(error_of(path) == path + ": insecure-registries[0]: not a string");
    atomic_write(path, R"({"insecure-registries": ["http://reg.example"]})");
    CHECK(error_of(path) == path + ": insecure-registries[0]: not a host[:port] or a CIDR");
    atomic_write(path, "{ nope");
    CHECK(error_of(path).starts_with(path + ": not valid JSON"));
    atomic_write(path, "[]");
    CHECK(error_of(path) == path + ": not a JSON object");
}
