#include "image/oci.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::image::ImageConfig;
using kiln::image::parse_image_config;
using kiln::image::parse_index;
using kiln::image::parse_manifest;
using kiln::image::serialize;
using Json = nlohmann::json;

namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

// A config as docker writes it, with fields kiln does not model.
const char* kDockerConfig = R"({
  "architecture": "amd64",
  "config": {
    "Hostname": "", "AttachStdin": false, "User": "app",
    "Env": ["PATH=/usr/bin", "A=b"], "Cmd": ["sh"], "Entrypoint": null,
    "WorkingDir": "/srv", "Labels": {"k": "v"}, "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
    "Volumes": {"/data": {}}, "StopSignal": "SIGTERM", "OnBuild": null,
    "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 30000000000, "Retries": 3},
    "Shell": ["/bin/bash", "-c"]
  },
  "container": "abc",
  "created": "2024-01-02T03:04:05.123456789Z",
  "docker_version": "24.0.7",
  "history": [
    {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:x in / "},
    {"created": "2024-01-02T00:00:00Z", "created_by": "CMD [\"sh\"]", "empty_layer": true, "comment": "buildkit.dockerfile.v0"}
  ],
  "os": "linux",
  "rootfs": {"type": "layers", "diff_ids": ["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}
})";

}  // namespace

TEST_CASE("oci: image config fields are typed", "[oci]") {
    ImageConfig c = parse_image_config(kDockerConfig);
    CHECK(c.architecture == "amd64");
    CHECK(c.os == "linux");
    CHECK(c.created == "2024-01-02T03:04:05.123456789Z");
    CHECK(c.config.user == "app");
    CHECK(c.config.env == std::vector<std::string>{"PATH=/usr/bin", "A=b"});
    REQUIRE(c.config.cmd);
    CHECK(*c.config.cmd == std::vector<std::string>{"sh"});
    CHECK_FALSE(c.config.entrypoint);
    CHECK(c.config.working_dir == "/srv");
    CHECK(c.config.labels.at("k") == "v");
    CHECK(c.config.exposed_ports == std::vector<std::string>{"53/udp", "80/tcp"});
    CHECK(c.config.volumes == std::vector<std::string>{"/data"});
    CHECK(c.config.stop_signal == "SIGTERM");
    REQUIRE(c.config.healthcheck);
    CHECK(c.config.healthcheck->interval == 30000000000);
    CHECK(c.config.healthcheck->retries == 3);
    CHECK(c.config.shell == std::vector<std::string>{"/bin/bash", "-c"});
    REQUIRE(c.diff_ids.size() == 1);
    CHECK(c.diff_ids[0].str() == kA);
    REQUIRE(c.history.size() == 2);
    CHECK(c.history[1].empty_layer);
    CHECK(c.history[1].comment == "buildkit.dockerfile.v0");
    CHECK_FALSE(c.history[0].empty_layer);
}

TEST_CASE("oci: unknown fields survive a round trip and output is canonical", "[oci]") {
    ImageConfig c = parse_image_config(kDockerConfig);
    std::string out = serialize(c);
    CHECK(out == Json::parse(kDockerConfig).dump());  // unchanged document → same canonical bytes
    Json j = Json::parse(out);
    CHECK(j["docker_version"] == "24.0.7");
    CHECK(j["config"]["Hostname"] == "");
    CHECK(j["config"]["Entrypoint"].is_null());
    CHECK(out.find('\n') == std::string::npos);
    CHECK(out.find(": ") == std::string::npos);
    CHECK(serialize(parse_image_config(out)) == out);

    // Changes show up; cleared fields disappear; unknown fields stay.
    c.config.entrypoint = std::vector<std::string>{"/init"};
    c.config.cmd.reset();
    c.config.labels.clear();
    c.config.env.push_back("X=1");
    c.diff_ids.push_back(kiln::Digest::parse(kB));
    c.history.push_back({"2024-01-03T00:00:00Z", "RUN x", "", "", false, Json::object()});
    j = Json::parse(serialize(c));
    CHECK(j["config"]["Entrypoint"] == Json::array({"/init"}));
    CHECK_FALSE(j["config"].contains("Cmd"));
    CHECK_FALSE(j["config"].contains("Labels"));
    CHECK(j["config"]["Env"].size() == 3);
    CHECK(j["rootfs"]["diff_ids"][1] == kB);
    CHECK(j["history"].size() == 3);
    CHECK_FALSE(j["history"][2].contains("empty_layer"));
    CHECK(j["container"] == "abc");
}

TEST_CASE("oci: a fresh config serializes minimally", "[oci]") {
    ImageConfig c;
    c.architecture = kiln::image::platform_arch();
    c.os = "linux";
    c.config.cmd = std::vector<std::string>{};
    CHECK(serialize(c) ==
          R"({"architecture":")" + c.architecture + R"(","config":{"Cmd":[]},"os":"linux","rootfs":{"diff_ids":[],"type":"layers"}})");
}

TEST_CASE("oci: hostile configs are rejected with one-line errors", "[oci]") {
    // Each document is valid except for the one field named.
    auto doc = [](const std::string& fields) {
        return R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]})" +
               (fields.empty() ? "" : "," + fields) + "}";
    };
    CHECK_NOTHROW(parse_image_config(doc("")));
    const std::vector<std::string> bad = {
        "", "[]", "{", "null", R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})",
        R"({"architecture":"amd64","os":"linux"})", R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})",
        R"({"architecture": 5, "os":"linux","rootfs":{"type":"layers","diff_ids":[]}})", doc(R"("config": [])"),
        doc(R"("config": {"Env": "A=b"})"), doc(R"("config": {"Env": [1]})"), doc(R"("config": {"Env": ["novalue"]})"),
        doc(R"("config": {"Env": ["=x"]})"), doc(R"("config": {"Cmd": 7})"), doc(R"("config": {"Labels": {"a": 1}})"),
        doc(R"("config": {"ExposedPorts": ["80/tcp"]})"), doc(R"("config": {"Healthcheck": {"Interval": "5s"}})"),
        doc(R"("config": {"Healthcheck": {"Retries": -1}})"),
        R"({"architecture":"amd64","os":"linux","rootfs": {"type": "layers", "diff_ids": ["sha256:zz"]}})",
        R"({"architecture":"amd64","os":"linux","rootfs": {"type": "other", "diff_ids": []}})", doc(R"("history": {})"),
        doc(R"("history": [{"empty_layer": "yes"}])"), doc("\"created\": \"x\ny\""),
        std::string(100000, '[') + std::string(100000, ']'),
    };
    for (const auto& text : bad) {
        INFO(text.substr(0, 120));
        try {
            parse_image_config(text);
            FAIL("accepted");
        } catch (const kiln::Error& e) {
            std::string msg = e.what();
            INFO(msg);
            CHECK(msg.rfind("image config", 0) == 0);
            CHECK(msg.find('\n') == std::string::npos);
        }
    }
    // docker's strslice: a plain string for Cmd is one argument
    CHECK(*parse_image_config(doc(R"("config": {"Cmd": "sh"})")).config.cmd == std::vector<std::string>{"sh"});
}

TEST_CASE("oci: manifests", "[oci]") {
    const std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
      "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":")" + kA + R"("},
      "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2811478,"digest":")" + kB +
                             R"(","x-extra":1}],
      "annotations":{"org.opencontainers.image.created":"now"}})";
    auto m = parse_manifest(text);
    CHECK(m.media_type == kiln::image::media::kDockerManifest);
    CHECK(m.config.digest.str() == kA);
    CHECK(m.config.size == 1469);
    REQUIRE(m.layers.size() == 1);
    CHECK(kiln::image::media::is_layer(m.layers[0].media_type));
    CHECK(m.annotations.at("org.opencontainers.image.created") == "now");
    CHECK(serialize(m) == Json::parse(text).dump());

    CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":1,"config":{}})"), kiln::Error);
    CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2})"), kiln::Error);
    CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","config":{}})"),
                    kiln::Error);
    CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kA + R"(","size":-1}})"),
                    kiln::Error);
    CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha512:ab","size":1}})"),
                    kiln::Error);
    CHECK_THROWS_AS(parse_manifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kA + R"(","size":1.5}})"),
                    kiln::Error);
}

TEST_CASE("oci: indexes and platforms", "[oci]") {
    using namespace kiln::image;
    const std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kA + R"(","size":10,
       "platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kB + R"(","size":11,
       "platform":{"architecture":"amd64","os":"linux","features":["sse4"]}}]})";
    Index x = parse_index(text);
    REQUIRE(x.manifests.size() == 2);
    REQUIRE(x.manifests[0].platform);
    CHECK(x.manifests[0].platform->str() == "linux/arm64/v8");
    CHECK(serialize(x) == Json::parse(text).dump());
    CHECK(platform_matches(*x.manifests[0].platform, parse_platform("linux/arm64")));
    CHECK(platform_matches(*x.manifests[1].platform, parse_platform("linux/amd64")));
    CHECK_FALSE(platform_matches(*x.manifests[1].platform, parse_platform("linux/arm64")));
    CHECK_FALSE(platform_matches({"arm", "linux", "", {}, "v6"}, parse_platform("linux/arm/v7")));
    CHECK(parse_platform("amd64").str() == "linux/amd64");
    CHECK(parse_platform("linux/x86_64").architecture == "amd64");
    CHECK_THROWS_AS(parse_platform("linux//"), kiln::Error);
    CHECK_THROWS_AS(parse_platform("a/b/c/d"), kiln::Error);
#if defined(__x86_64__)
    CHECK(platform_arch() == "amd64");
#endif
    CHECK(host_platform().os == "linux");
    CHECK_THROWS_AS(parse_index(R"({"schemaVersion":2,"manifests":{}})"), kiln::Error);
    CHECK_THROWS_AS(parse_index(R"({"schemaVersion":2,"manifests":[{"digest":")" + kA + R"("}]})"), kiln::Error);
}

TEST_CASE("oci: image-spec conformance documents", "[oci][conformance]") {
    const std::string dir = std::string(KILN_CONFORMANCE_DIR) + "/oci-image-spec/schema-tests";
    if (!kiln::path_exists(dir + "/cases.tsv")) {
        WARN("conformance data not found at " << dir << ": skipped");
        return;
    }
    // Deliberate deviation: an empty "layers" array is accepted (BuildKit writes those).
    const std::vector<std::string> lenient = {"manifest/05-invalid.json"};
    std::istringstream rows(kiln::read_file(dir + "/cases.tsv"));
    std::string line;
    std::getline(rows, line);  // header
    int checked = 0;
    while (std::getline(rows, line)) {
        std::vector<std::string> col;
        std::istringstream cells(line);
        for (std::string cell; std::getline(cells, cell, '\t');) col.push_back(cell);
        REQUIRE(col.size() >= 4);
        const std::string& kind = col[0];
        const std::string name = kind + "/" + col[1];
        if (kind == "layout") continue;  // the oci-layout file belongs to the archive code
        const std::string text = kiln::read_file(dir + "/" + name);
        bool expect_valid = col[3] == "valid";
        if (std::find(lenient.begin(), lenient.end(), name) != lenient.end()) expect_valid = true;
        INFO(name << ": " << (col.size() > 5 ? col[5] : ""));
        std::string error;
        try {
            if (kind == "manifest" || kind == "docker-v2.2-manifest") {
                auto m = parse_manifest(text);
                CHECK(serialize(m) == Json::parse(text).dump());
            } else if (kind == "index" || kind == "docker-v2.2-index") {
                auto x = parse_index(text);
                CHECK(serialize(x) == Json::parse(text).dump());
            } else if (kind == "config" || kind == "docker-v2.2-config") {
                auto c = parse_image_config(text);
                CHECK(serialize(c) == Json::parse(text).dump());
            } else if (kind == "descriptor") {
                auto d = kiln::image::descriptor_from_json(kiln::image::parse_json(text, "descriptor"));
                CHECK(kiln::image::to_json(d) == Json::parse(text));
            } else {
                FAIL("unknown kind " << kind);
            }
        } catch (const kiln::Error& e) {
            error = e.what();
            CHECK(error.find('\n') == std::string::npos);
        }
        INFO("error: " << error);
        CHECK(error.empty() == expect_valid);
        if (col.size() > 4 && !col[4].empty()) CHECK(kiln::sha256_of(text).str() == col[4]);
        ++checked;
    }
    CHECK(checked >= 69);
}
