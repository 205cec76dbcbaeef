#include "image/pulled_manifest.hpp"

#include "image/metadata_db.hpp"
#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::image {

void record_pulled_manifest(Store& store, const Digest& image_id, const std::string& media_type,
                            const std::string& bytes) {
    const Digest digest = store.content().put(bytes);
    store.db().put_image_manifest(image_id, digest, media_type);
}

namespace {

// Whether the manifest's layer descriptor is the kept blob of layer `layer`.
bool is_kept_blob_of(Store& store, const Descriptor& d, const LayerInfo& layer) {
    auto row = store.db().get_blob(d.digest);
    if (!row || row->diff_id != layer.diff_id || row->size != static_cast<std::uint64_t>(d.size)) return false;
    auto size = store.content().size(d.digest);
    return size && *size == row->size;
}

std::optional<ManifestPlan> plan_from(Store& store, const Digest& image_id, const ImageManifestRow& row,
                                      const std::string& config, const std::vector<LayerInfo>& layers) {
    ManifestPlan plan;
    try {
        plan.manifest_json = store.content().read(row.digest);
        plan.manifest = parse_manifest(plan.manifest_json);
    } catch (const Error&) {
        return std::nullopt;  // gone or rotten on disk: the image still pushes with a new manifest
    }
    const Manifest& m = plan.manifest;
    if (m.config.digest != image_id || static_cast<std::uint64_t>(m.config.size) != config.size() ||
        m.layers.size() != layers.size())
        return std::nullopt;
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (!is_kept_blob_of(store, m.layers[i], layers[i])) return std::nullopt;
    plan.image_id = image_id;
    plan.config = config;
    plan.layers = layers;
    plan.manifest.media_type = row.media_type;
    return plan;
}

}  // namespace

std::optional<ManifestPlan> plan_pulled_manifest(Store& store, const Digest& image_id) {
    const auto rows = store.db().image_manifests_for(image_id);
    if (rows.empty()) return std::nullopt;
    auto summary = store.images().get(image_id);
    if (!summary) return std::nullopt;
    const std::string config = store.images().config(image_id);
    std::vector<LayerInfo> layers;
    if (summary->top_chain_id) layers = store.layers().chain(*summary->top_chain_id);
    for (const auto& row : rows)
        if (auto plan = plan_from(store, image_id, row, config, layers)) return plan;
    return std::nullopt;
}

}  // namespace kiln::image
