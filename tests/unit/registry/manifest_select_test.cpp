#include "registry/manifest_select.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "util/error.hpp"

using kiln::image::Platform;
using kiln::image::parse_platform;
using kiln::registry::check_manifest;
using kiln::registry::choose_manifest;
using kiln::registry::manifest_kind;
using kiln::registry::platform_rank;

namespace {

std::string hex(char c) { return std::string(64, c); }

// An index entry for platform text ("linux/arm/v7"); media type an image manifest unless given.
nlohmann::json entry(char digest, const std::string& platform,
                     const std::string& media = "application/vnd.oci.image.manifest.v1+json") {
    nlohmann::json e = {{"mediaType", media}, {"digest", "sha256:" + hex(digest)}, {"size", 100}};
    if (!platform.empty()) {
        Platform p = parse_platform(platform);
        e["platform"] = {{"os", p.os}, {"architecture", p.architecture}};
        if (!p.variant.empty()) e["platform"]["variant"] = p.variant;
    }
    return e;
}

kiln::image::Index index_of(const nlohmann::json& entries) {
    nlohmann::json j = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"},
                        {"manifests", entries}};
    return kiln::image::parse_index(j.dump());
}

char chosen(const kiln::image::Index& index, const std::string& want) {
    auto d = choose_manifest(index, parse_platform(want));
    return d ? d->digest.hex()[0] : '-';
}

std::string manifest_json(const std::string& layer_type = "application/vnd.oci.image.layer.v1.tar+gzip",
                          const std::string& config_type = "application/vnd.oci.image.config.v1+json") {
    nlohmann::json j = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config", {{"mediaType", config_type}, {"digest", "sha256:" + hex('c')}, {"size", 10}}},
                        {"layers", {{{"mediaType", layer_type}, {"digest", "sha256:" + hex('1')}, {"size", 20}}}}};
    return j.dump();
}

}  // namespace

TEST_CASE("pull: an index entry is chosen by os, architecture and variant", "[registry][platform]") {
    auto index = index_of({entry('a', "linux/amd64"), entry('b', "linux/arm64/v8"), entry('c', "linux/arm/v6"),
                           entry('d', "linux/arm/v7"), entry('e', "windows/amd64"), entry('f', "linux/s390x")});
    CHECK(chosen(index, "linux/amd64") == 'a');
    CHECK(chosen(index, "linux/arm64") == 'b');
    CHECK(chosen(index, "linux/arm64/v8") == 'b');
    CHECK(chosen(index, "linux/arm/v7") == 'd');  // exact beats the older v6
    CHECK(chosen(index, "linux/arm/v6") == 'c');
    CHECK(chosen(index, "windows/amd64") == 'e');
    CHECK(chosen(index, "linux/ppc64le") == '-');
    CHECK(chosen(index, "s390x") == 'f');  // os defaults to linux
}

TEST_CASE("pull: variant fallbacks run older code on newer machines only", "[registry][platform]") {
    // arm v8 (32-bit) runs v7 and v6 code, preferring the newest; v5 cannot run v6.
    auto arm = index_of({entry('6', "linux/arm/v6"), entry('7', "linux/arm/v7")});
    CHECK(chosen(arm, "linux/arm/v8") == '7');
    CHECK(chosen(arm, "linux/arm/v5") == '-');
    // An arm entry without a variant is v7, as containerd reads it.
    auto plain_arm = index_of(nlohmann::json::array({entry('a', "linux/arm")}));
    CHECK(chosen(plain_arm, "linux/arm/v7") == 'a');
    CHECK(chosen(plain_arm, "linux/arm/v6") == '-');
    // amd64 v3 machines run v2 and v1 images; an entry without a variant is v1.
    auto amd = index_of({entry('1', "linux/amd64"), entry('2', "linux/amd64/v2")});
    CHECK(chosen(amd, "linux/amd64/v3") == '2');
    CHECK(chosen(amd, "linux/amd64/v2") == '2');
    CHECK(chosen(amd, "linux/amd64") == '1');  // no variant asked: the default one first
    // arm64: v8 and "no variant" are the same thing (parse_platform drops v8), and a machine
    // that names no variant takes any.
    auto arm64 = index_of({entry('9', "linux/arm64/v9"), entry('8', "linux/arm64")});
    CHECK(chosen(arm64, "linux/arm64") == '8');
    CHECK(chosen(arm64, "linux/arm64/v8") == '8');
    Platform v9 = parse_platform("linux/arm64/v9");
    CHECK(chosen(arm64, v9.str()) == '9');
}

TEST_CASE("pull: entries that are not images are never chosen", "[registry][platform]") {
    auto index = index_of({entry('a', ""), entry('b', "linux/amd64", "application/vnd.oci.image.index.v1+json"),
                           entry('c', "linux/amd64", "application/vnd.docker.distribution.manifest.v2+json")});
    CHECK(chosen(index, "linux/amd64") == 'c');
    CHECK(kiln::registry::offered_platforms(index) == "linux/amd64");
    CHECK(kiln::registry::offered_platforms(index_of(nlohmann::json::array())) == "none");
    // On ties the first entry wins, as in docker.
    auto twice = index_of({entry('d', "linux/amd64"), entry('e', "linux/amd64")});
    CHECK(chosen(twice, "linux/amd64") == 'd');
    CHECK_FALSE(platform_rank(parse_platform("linux/amd64"), parse_platform("windows/amd64")));
}

TEST_CASE("pull: what kind of manifest a registry served", "[registry][manifest]") {
    const std::string oci_manifest = "application/vnd.oci.image.manifest.v1+json";
    CHECK(manifest_kind(oci_manifest, "{}") == oci_manifest);
    CHECK(manifest_kind("application/vnd.docker.distribution.manifest.v1+prettyjws", "{}") ==
          std::string(kiln::image::media::kDockerManifestV1Signed));
    // A vague Content-Type: the body decides.
    CHECK(manifest_kind("application/json", R"({"schemaVersion":1,"name":"x"})") ==
          std::string(kiln::image::media::kDockerManifestV1Signed));
    CHECK(manifest_kind("", R"({"schemaVersion":2,"manifests":[]})") == std::string(kiln::image::media::kOciIndex));
    CHECK(manifest_kind("application/octet-stream", manifest_json()) == oci_manifest);
    CHECK(manifest_kind("application/json", "not json") == "application/json");
    CHECK(manifest_kind("text/html", "<html>") == "text/html");
}

TEST_CASE("pull: a manifest is checked before anything is downloaded", "[registry][manifest]") {
    auto ok = check_manifest(manifest_json(), "manifest m");
    REQUIRE(ok.compression.size() == 1);
    CHECK(ok.compression[0] == kiln::image::Compression::Gzip);
    CHECK(check_manifest(manifest_json("application/vnd.oci.image.layer.v1.tar+zstd"), "m").compression[0] ==
          kiln::image::Compression::Zstd);
    CHECK(check_manifest(manifest_json("application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       "application/vnd.docker.container.image.v1+json"),
                         "m")
              .compression[0] == kiln::image::Compression::Gzip);
    CHECK(check_manifest(manifest_json("application/vnd.oci.image.layer.v1.tar"), "m").compression[0] ==
          kiln::image::Compression::None);

    // Hostile or foreign inputs: each a one-line error naming the manifest.
    auto refused = [](const std::string& body, const std::string& why) {
        INFO(body);
        try {
            check_manifest(body, "manifest m");
            FAIL("accepted");
        } catch (const kiln::Error& e) {
            std::string msg = e.what();
            CHECK(msg.find("manifest m") != std::string::npos);
            CHECK(msg.find(why) != std::string::npos);
            CHECK(msg.find('\n') == std::string::npos);
        }
    };
    refused("{", "invalid");
    refused("[]", "invalid");
    refused(R"({"schemaVersion":2,"layers":[]})", "invalid");  // no config
    refused(manifest_json("application/vnd.oci.image.layer.v1.tar", "application/vnd.cncf.helm.config.v1+json"),
            "not a container image");
    refused(manifest_json("application/x-tar-bomb"), "layer 1");
    refused(manifest_json("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"), "foreign");
    nlohmann::json j = nlohmann::json::parse(manifest_json());
    j["schemaVersion"] = 3;
    refused(j.dump(), "schemaVersion");
    j = nlohmann::json::parse(manifest_json());
    j["config"]["size"] = 1ll << 40;
    refused(j.dump(), "more than kiln accepts");
    j = nlohmann::json::parse(manifest_json());
    j["layers"][0]["urls"] = {"https://elsewhere.example/blob"};
    refused(j.dump(), "external URLs");
    j = nlohmann::json::parse(manifest_json());
    j["layers"][0]["digest"] = "sha512:" + std::string(128, 'a');
    refused(j.dump(), "sha256");
    j = nlohmann::json::parse(manifest_json());
    j["layers"] = nlohmann::json::array();
    for (int i = 0; i < 1001; ++i)
        j["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                               {"digest", "sha256:" + hex('1')},
                               {"size", 1}});
    refused(j.dump(), "more than 1000");
}
