#include "builder/cache_artifact.hpp"

#include <map>
#include <set>

#include "util/error.hpp"

namespace kiln::builder {

namespace {

constexpr int kCacheFormatVersion = 1;

}  // namespace

std::string CacheArtifact::config_json() const {
    nlohmann::json steps_json = nlohmann::json::array();
    for (const auto& step : steps)
        steps_json.push_back({{"key", step.key.str()}, {"config", step.config}, {"inheritedCmd", step.cmd_inherited}});
    return image::canonical_json({{"version", kCacheFormatVersion}, {"steps", steps_json}});
}

std::string CacheArtifact::manifest_json(const Digest& config_digest, std::uint64_t config_size) const {
    image::Manifest manifest;
    manifest.media_type = std::string(image::media::kOciManifest);
    manifest.artifact_type = std::string(kCacheArtifactType);
    manifest.config.media_type = std::string(kCacheConfigMediaType);
    manifest.config.digest = config_digest;
    manifest.config.size = static_cast<std::int64_t>(config_size);
    for (const auto& layer : layers) {
        image::Descriptor blob = layer.blob;
        blob.annotations[std::string(kDiffIdAnnotation)] = layer.diff_id.str();
        manifest.layers.push_back(std::move(blob));
    }
    return image::serialize(manifest);
}

ParsedCacheManifest parse_cache_manifest(std::string_view text) {
    image::Manifest manifest = image::parse_manifest(text);
    if (manifest.config.media_type != kCacheConfigMediaType)
        throw Error("not a kiln build cache (config media type " + manifest.config.media_type + ")");
    if (manifest.config.digest.empty()) throw Error("build cache config has no sha256 digest");
    if (manifest.config.size < 0 || static_cast<std::uint64_t>(manifest.config.size) > kMaxCacheConfigSize)
        throw Error("build cache config of " + std::to_string(manifest.config.size) + " bytes is too large");
    ParsedCacheManifest parsed{manifest.config, {}};
    std::set<Digest> seen;
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
        const auto& blob = manifest.layers[i];
        std::string where = "build cache layers[" + std::to_string(i) + "]";
        if (!image::media::is_layer(blob.media_type))
            throw Error(where + ": media type " + blob.media_type + " is not a layer");
        if (blob.digest.empty()) throw Error(where + ": not a sha256 digest");
        auto it = blob.annotations.find(std::string(kDiffIdAnnotation));
        if (it == blob.annotations.end()) throw Error(where + ": no " + std::string(kDiffIdAnnotation) + " annotation");
        if (!Digest::valid(it->second)) throw Error(where + ": invalid diffID " + it->second);
        Digest diff_id = Digest::parse(it->second);
        if (!seen.insert(diff_id).second) continue;
        parsed.layers.push_back({blob, diff_id});
    }
    return parsed;
}

std::vector<Digest> config_diff_ids(std::string_view config) {
    return image::parse_image_config(config).diff_ids;
}

std::vector<CachedStep> parse_cache_config(std::string_view text, const std::vector<CacheLayer>& layers) {
    nlohmann::json doc = image::parse_json(text, "build cache config");
    if (!doc.is_object() || !doc.contains("version") || !doc["version"].is_number_integer())
        throw Error("build cache config: no version");
    if (doc["version"].get<int>() != kCacheFormatVersion)
        throw Error("build cache config: version " + doc["version"].dump() + " is not supported");
    if (!doc.contains("steps") || !doc["steps"].is_array()) throw Error("build cache config: no steps");
    std::set<Digest> carried;
    for (const auto& layer : layers) carried.insert(layer.diff_id);
    std::vector<CachedStep> steps;
    const auto& list = doc["steps"];
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& entry = list[i];
        std::string where = "build cache config: steps[" + std::to_string(i) + "]";
        if (!entry.is_object() || !entry.contains("key") || !entry["key"].is_string() ||
            !entry.contains("config") || !entry["config"].is_string() ||
            (entry.contains("inheritedCmd") && !entry["inheritedCmd"].is_boolean()))
            throw Error(where + ": expected {key, config, inheritedCmd}");
        std::string key = entry["key"].get<std::string>();
        if (!Digest::valid(key)) throw Error(where + ": invalid key " + key);
        CachedStep step{Digest::parse(key), entry["config"].get<std::string>(), entry.value("inheritedCmd", false)};
        std::vector<Digest> diff_ids;
        try {
            diff_ids = config_diff_ids(step.config);
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        bool restorable = true;
        for (const auto& d : diff_ids) restorable = restorable && carried.count(d);
        if (restorable) steps.push_back(std::move(step));
    }
    return steps;
}

}  // namespace kiln::builder
