#pragma once
// What the registry tests share beyond the fixture: a kiln with a credentials folder of its
// own, a look at a store's files (a failed pull must leave them as they were), and plain
// curl views of what a registry holds.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "registry_fixture.hpp"

namespace kiln::test {

// `kiln --config DIR …`: no credentials of the machine's user are read.
struct PullKiln : Kiln {
    kiln::TempDir config{"/tmp", "kiln-it-pull-config-"};
    CommandResult operator()(std::vector<std::string> args, const std::string& input = "") const {
        args.insert(args.begin(), {"--config", config.path()});
        return Kiln::operator()(std::move(args), input);
    }
};

// The store's files a failed pull must not touch.
struct StoreSnapshot {
    std::string images;
    std::set<std::string> layers, blobs;
    friend bool operator==(const StoreSnapshot&, const StoreSnapshot&) = default;
};

inline StoreSnapshot snapshot(const Kiln& kiln) {
    StoreSnapshot s;
    s.images = kiln({"images", "-q", "--no-trunc"}).out;
    s.layers = dir_entries(kiln.root.path() + "/layers");
    s.blobs = dir_entries(kiln.root.path() + "/blobs/sha256");
    return s;
}

// `curl` of a registry URL path; returns the body.
inline std::string curl(const RegistryServer& reg, const std::string& path, std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {"curl", "-sf", "--max-time", "30"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(reg.url() + path);
    auto r = run_command(argv);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// The HTTP status a registry answers to `method path` (no credentials).
inline int curl_status(const RegistryServer& reg, const std::string& method, const std::string& path) {
    auto r = run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", "-X", method,
                          "-H", "Accept: application/vnd.oci.image.manifest.v1+json, "
                                "application/vnd.docker.distribution.manifest.v2+json",
                          reg.url() + path});
    return std::atoi(r.out.c_str());
}

// The layer digests of repo:tag's (single-platform) manifest.
inline std::vector<std::string> layer_digests(const RegistryServer& reg, const std::string& repo,
                                              const std::string& tag) {
    auto j = nlohmann::json::parse(curl(reg, "/v2/" + repo + "/manifests/" + tag,
                                        {"-H", "Accept: application/vnd.oci.image.manifest.v1+json, "
                                               "application/vnd.docker.distribution.manifest.v2+json"}));
    std::vector<std::string> out;
    for (const auto& l : j["layers"]) out.push_back(l["digest"].get<std::string>());
    return out;
}

// The manifest digest in kiln push's last line ("TAG: digest: sha256:… size: N").
inline std::string pushed_digest(const std::string& out) {
    auto at = out.find(": digest: ");
    REQUIRE(at != std::string::npos);
    return out.substr(at + 10, 71);
}

// skopeo (another client) sees `digest` for the image `name` (warns when it is not installed).
inline void check_skopeo_digest(const std::string& name, const std::string& digest) {
    if (!path_exists("/usr/bin/skopeo")) {
        WARN("skopeo not installed: the cross-check with another client is skipped");
        return;
    }
    auto inspected = run_command({"skopeo", "inspect", "--tls-verify=false", "docker://" + name});
    INFO(inspected.err);
    REQUIRE(inspected.exit_code == 0);
    CHECK(nlohmann::json::parse(inspected.out)["Digest"] == digest);
}

// An environment variable set for one test, unset again after it.
struct ScopedEnv {
    std::string name;
    ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { ::setenv(name.c_str(), value.c_str(), 1); }
    ~ScopedEnv() { ::unsetenv(name.c_str()); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
};

}  // namespace kiln::test
