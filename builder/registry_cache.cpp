#include "builder/registry_cache.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <set>

#include "image/blob_cache.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "registry/client.hpp"
#include "registry/layer_fetch.hpp"
#include "registry/push.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace kiln::builder {

namespace {

class RegistryCacheSource : public CacheSource {
public:
    RegistryCacheSource(registry::Session& session, const image::Reference& ref)
        : ref_(ref), repository_(session, ref, registry::Access::Pull) {}

    // False when the registry has no such tag.
    bool load() {
        std::string tag = ref_.digest ? ref_.digest->str() : ref_.tag;
        if (!repository_.head_manifest(tag)) return false;
        auto manifest = repository_.get_manifest(tag);
        auto parsed = parse_cache_manifest(manifest.bytes);
        std::string config;
        repository_.get_blob(parsed.config.digest, static_cast<std::uint64_t>(parsed.config.size),
                             [&](const void* data, std::size_t size) { config.append(static_cast<const char*>(data), size); },
                             {}, [&] { config.clear(); });
        for (auto& step : parse_cache_config(config, parsed.layers)) steps_.emplace(step.key, std::move(step));
        for (auto& layer : parsed.layers) layers_.emplace(layer.diff_id, std::move(layer));
        return true;
    }

    std::optional<CachedStep> find(const Digest& key) override {
        auto it = steps_.find(key);
        if (it == steps_.end()) return std::nullopt;
        return it->second;
    }

    bool fetch_layers(image::Store& store, const std::vector<Digest>& diff_ids) override {
        std::optional<Digest> parent;
        std::vector<std::pair<Digest, std::optional<Digest>>> missing;  // diffID, parent chain
        for (const auto& diff_id : diff_ids) {
            Digest chain = image::chain_id(parent, diff_id);
            if (!store.layers().get(chain)) {
                if (!layers_.count(diff_id)) return false;
                missing.emplace_back(diff_id, parent);
            }
            parent = chain;
        }
        for (const auto& [diff_id, below] : missing) fetch_layer(store, layers_.at(diff_id), below);
        return true;
    }

private:
    // Streamed once: kept as the compressed blob and unpacked as it arrives, as a pull does;
    // the blob stays recorded as the layer's compressed form, so pushing the image again
    // sends the very bytes this cache carried.
    void fetch_layer(image::Store& store, const CacheLayer& layer, const std::optional<Digest>& parent) {
        const std::atomic<bool> never_cancelled{false};
        auto fetched = registry::fetch_layer(repository_, store, layer.blob, {}, never_cancelled);
        if (fetched.layer.diff_id != layer.diff_id)
            throw Error("build cache " + ref_.str() + ": layer " + layer.blob.digest.str() + " unpacks to " +
                        fetched.layer.diff_id.str() + ", not its diffID " + layer.diff_id.str());
        Digest blob = fetched.blob.commit(fetched.blob_digest);
        store.layers().publish(fetched.layer, parent);
        image::record_layer_blob(store, layer.diff_id, image::LayerBlob{layer.blob.media_type, blob, fetched.blob_size});
    }

    image::Reference ref_;
    registry::Repository repository_;
    std::map<Digest, CachedStep> steps_;
    std::map<Digest, CacheLayer> layers_;
};

class EmptyCacheSource : public CacheSource {
public:
    std::optional<CachedStep> find(const Digest&) override { return std::nullopt; }
    bool fetch_layers(image::Store&, const std::vector<Digest>&) override { return false; }
};

}  // namespace

CacheSpec parse_cache_spec(const std::string& text, const std::string& flag) {
    if (text.empty()) throw Error(flag + ": empty value");
    CacheSpec spec;
    if (text.find('=') == std::string::npos) {
        spec.ref = image::parse_reference(text).str();
        return spec;
    }
    std::string type, unknown;
    for (const auto& field : split_fields(text, ',')) {
        auto eq = field.find('=');
        if (eq == std::string::npos || eq == 0) throw Error(flag + ": \"" + field + "\" is not KEY=VALUE");
        std::string key = field.substr(0, eq), value = field.substr(eq + 1);
        if (key == "type") {
            type = value;
        } else if (key == "ref") {
            spec.ref = image::parse_reference(value).str();
        } else if (key == "mode") {
            if (value != "min" && value != "max") throw Error(flag + ": mode must be min or max, not \"" + value + "\"");
            spec.max = value == "max";
        } else if (key == "ignore-error") {
            if (value != "true" && value != "false") throw Error(flag + ": ignore-error must be true or false");
            spec.ignore_error = value == "true";
        } else if (key == "oci-mediatypes" || key == "image-manifest" || key == "compression") {
            // kiln always writes OCI media types, an image manifest and gzip layers.
        } else if (unknown.empty()) {
            unknown = key;
        }
    }
    if (type != "registry")
        throw Error(flag + ": type " + (type.empty() ? "(none)" : "\"" + type + "\"") +
                    " is not supported (kiln shares its build cache through a registry: type=registry,ref=…)");
    if (!unknown.empty()) throw Error(flag + ": unknown attribute \"" + unknown + "\"");
    if (spec.ref.empty()) throw Error(flag + ": type=registry needs ref=HOST/REPO:TAG");
    return spec;
}

std::shared_ptr<CacheSource> open_registry_cache(registry::Session& session, const CacheSpec& spec,
                                                 std::ostream& warnings) {
    auto source = std::make_shared<RegistryCacheSource>(session, image::parse_reference(spec.ref));
    if (source->load()) return source;
    warnings << "WARNING: build cache " << spec.ref << " not found in the registry; building without it\n";
    return std::make_shared<EmptyCacheSource>();
}

CacheExport export_registry_cache(registry::Session& session, image::Store& store, const CacheSpec& spec,
                                  const BuildResult& result) {
    auto ref = image::parse_reference(spec.ref);
    registry::Repository repository(session, ref, registry::Access::PullPush);
    CacheArtifact artifact;
    artifact.steps = spec.max ? result.exported_steps : result.target_steps;
    CacheExport report;
    std::set<Digest> seen_keys, seen_layers;
    std::vector<CachedStep> unique_steps;
    for (auto& step : artifact.steps)
        if (seen_keys.insert(step.key).second) unique_steps.push_back(std::move(step));
    artifact.steps = std::move(unique_steps);
    for (const auto& step : artifact.steps) {
        std::optional<Digest> chain;
        for (const auto& diff_id : config_diff_ids(step.config)) {
            chain = image::chain_id(chain, diff_id);
            if (!seen_layers.insert(diff_id).second) continue;
            auto info = store.layers().get(*chain);
            if (!info) throw Error("build cache export: layer " + diff_id.str() + " is not in the store");
            auto blob = image::ensure_layer_blob(store, *info, image::Compression::Gzip);
            if (registry::push_stored_blob(repository, store, blob.digest, blob.size)) ++report.uploaded;
            image::Descriptor d;
            d.media_type = blob.media_type;
            d.digest = blob.digest;
            d.size = static_cast<std::int64_t>(blob.size);
            artifact.layers.push_back({d, diff_id});
        }
    }
    std::string config = artifact.config_json();
    Digest config_digest = sha256_of(config);
    if (!repository.head_blob(config_digest))
        repository.upload_blob(config_digest, config.size(), [&](std::uint64_t offset, void* buf, std::size_t cap) {
            std::size_t n = std::min<std::uint64_t>(cap, config.size() - std::min<std::uint64_t>(offset, config.size()));
            std::memcpy(buf, config.data() + offset, n);
            return n;
        });
    std::string manifest = artifact.manifest_json(config_digest, config.size());
    report.manifest = repository.put_manifest(ref.digest ? ref.digest->str() : ref.tag,
                                              std::string(image::media::kOciManifest), manifest);
    report.steps = artifact.steps.size();
    report.layers = artifact.layers.size();
    return report;
}

}  // namespace kiln::builder
