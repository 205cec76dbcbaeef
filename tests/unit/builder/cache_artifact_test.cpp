#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "builder/cache_artifact.hpp"
#include "util/error.hpp"

using namespace kiln;
using namespace kiln::builder;

namespace {

std::string config_with(const std::vector<Digest>& diff_ids) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& d : diff_ids) ids.push_back(d.str());
    return nlohmann::json{{"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}}.dump();
}

CacheLayer layer(const std::string& seed) {
    CacheLayer l;
    l.blob.media_type = std::string(image::media::kOciLayerGzip);
    l.blob.digest = sha256_of("blob " + seed);
    l.blob.size = 10;
    l.diff_id = sha256_of("tar " + seed);
    return l;
}

}  // namespace

TEST_CASE("build cache artifact round-trips its steps and layers", "[cache-artifact]") {
    CacheArtifact artifact;
    artifact.layers = {layer("a"), layer("b")};
    artifact.steps.push_back({sha256_of("k1"), config_with({artifact.layers[0].diff_id}), false});
    artifact.steps.push_back({sha256_of("k2"), config_with({artifact.layers[0].diff_id, artifact.layers[1].diff_id}), true});
    std::string config = artifact.config_json();
    std::string manifest = artifact.manifest_json(sha256_of(config), config.size());

    auto parsed = parse_cache_manifest(manifest);
    CHECK(parsed.config.digest == sha256_of(config));
    CHECK(parsed.config.media_type == kCacheConfigMediaType);
    REQUIRE(parsed.layers.size() == 2);
    CHECK(parsed.layers[1].diff_id == artifact.layers[1].diff_id);
    CHECK(parsed.layers[1].blob.digest == artifact.layers[1].blob.digest);

    auto steps = parse_cache_config(config, parsed.layers);
    REQUIRE(steps.size() == 2);
    CHECK(steps[0].key == sha256_of("k1"));
    CHECK(steps[1].cmd_inherited);
    CHECK(steps[1].config == artifact.steps[1].config);
    CHECK(nlohmann::json::parse(manifest)["artifactType"] == kCacheArtifactType);
}

TEST_CASE("build cache steps whose layers are not carried are dropped", "[cache-artifact]") {
    CacheArtifact artifact;
    artifact.layers = {layer("a")};
    artifact.steps.push_back({sha256_of("k1"), config_with({layer("missing").diff_id}), false});
    artifact.steps.push_back({sha256_of("k2"), config_with({}), false});
    auto steps = parse_cache_config(artifact.config_json(), artifact.layers);
    REQUIRE(steps.size() == 1);
    CHECK(steps[0].key == sha256_of("k2"));
}

TEST_CASE("hostile build cache manifests and configs are refused", "[cache-artifact]") {
    CacheArtifact artifact;
    artifact.layers = {layer("a")};
    std::string config = artifact.config_json();
    auto manifest = nlohmann::json::parse(artifact.manifest_json(sha256_of(config), config.size()));

    auto refused = [](const nlohmann::json& m, const std::string& needle) {
        try {
            parse_cache_manifest(m.dump());
        } catch (const Error& e) {
            return std::string(e.what()).find(needle) != std::string::npos;
        }
        return false;
    };
    auto wrong_type = manifest;
    wrong_type["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json";
    CHECK(refused(wrong_type, "not a kiln build cache"));
    auto huge = manifest;
    huge["config"]["size"] = 1ll << 40;
    CHECK(refused(huge, "too large"));
    auto no_diff = manifest;
    no_diff["layers"][0]["annotations"] = nlohmann::json::object();
    CHECK(refused(no_diff, "annotation"));
    auto not_layer = manifest;
    not_layer["layers"][0]["mediaType"] = "application/vnd.oci.image.config.v1+json";
    CHECK(refused(not_layer, "is not a layer"));

    CHECK_THROWS_AS(parse_cache_config("[]", {}), Error);
    CHECK_THROWS_AS(parse_cache_config(R"({"version":2,"steps":[]})", {}), Error);
    CHECK_THROWS_AS(parse_cache_config(R"({"version":1,"steps":[{"key":"sha256:zz","config":"{}"}]})", {}), Error);
    CHECK_THROWS_AS(parse_cache_config(R"({"version":1,"steps":[{"key":")" + sha256_of("k").str() + R"(","config":"not json"}]})", {}), Error);
}

#include "builder/registry_cache.hpp"

TEST_CASE("cache specs parse as BuildKit spells them", "[cache-artifact]") {
    auto spec = parse_cache_spec("type=registry,ref=127.0.0.1:5000/app:cache,mode=max", "--cache-to");
    CHECK(spec.ref == "127.0.0.1:5000/app:cache");
    CHECK(spec.max);
    CHECK_FALSE(spec.ignore_error);
    CHECK(parse_cache_spec("busybox", "--cache-from").ref == "docker.io/library/busybox:latest");
    CHECK(parse_cache_spec("type=registry,ref=a/b:c,ignore-error=true", "--cache-to").ignore_error);
    auto refused = [](const std::string& text, const std::string& needle) {
        try {
            parse_cache_spec(text, "--cache-to");
        } catch (const Error& e) {
            return std::string(e.what()).find(needle) != std::string::npos;
        }
        return false;
    };
    CHECK(refused("type=local,dest=/x", "type \"local\" is not supported"));
    CHECK(refused("type=registry", "needs ref="));
    CHECK(refused("type=registry,ref=a,mode=all", "mode must be min or max"));
    CHECK(refused("type=registry,ref=a,colour=red", "unknown attribute \"colour\""));
    CHECK(refused("type=registry,ref=a/UPPER", "invalid reference"));
    CHECK(refused("", "empty value"));
}
