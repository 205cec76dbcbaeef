#pragma once
// What `docker image inspect` and `docker history` show of an image, built from kiln's store.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/digest.hpp"
#include "util/go_template.hpp"

namespace kiln::image {

class Store;
struct LayerInfo;

// Docker's image inspect object, its fields in Docker's order. repo_tags: familiar names
// ("busybox:latest"). layers: the image's chain, bottom first (for GraphDriver).
// repo_digests: familiar "busybox@sha256:…" names of the registry manifests it was pulled as.
TemplateValue inspect_object(const Digest& id, const nlohmann::json& config, std::uint64_t size,
                             const std::vector<std::string>& repo_tags,
                             const std::vector<LayerInfo>& layers, const std::string& layers_root,
                             const std::vector<std::string>& repo_digests = {});

// The familiar "busybox@sha256:…" RepoDigests of a stored image.
std::vector<std::string> familiar_repo_digests(Store& store, const Digest& id);

// The same for a stored image (throws kiln::Error if unknown).
TemplateValue inspect_image(Store& store, const Digest& id);

// Docker's indentation of inspect output: 4 spaces, and <, >, & escaped as Go's encoder does.
std::string inspect_json(const TemplateValue& value);

// One line of `docker history`.
struct HistoryRow {
    std::string id;  // the image ID on the newest row, "<missing>" on the rows below it
    std::int64_t created = 0;
    std::string created_by;
    std::uint64_t size = 0;  // the layer the entry made; 0 for metadata-only entries
    std::string comment;
    std::vector<std::string> tags;  // the image's names, on the newest row only
};

// The config's history, newest first, each layer-making entry paired with its layer's size
// (layer_sizes: one per rootfs layer, bottom first). Like Docker with the containerd image
// store, only the newest row names an image: kiln keeps no parent images.
std::vector<HistoryRow> history_rows(const nlohmann::json& config, const std::vector<std::uint64_t>& layer_sizes,
                                     const Digest& image_id, const std::vector<std::string>& tags);

// The created_by of each layer-making history entry, bottom first, padded with "" to
// layer_count (a config's history may be missing or short).
std::vector<std::string> layer_history(const nlohmann::json& config, std::size_t layer_count);

// docker history's values of a row, as its --format sees them (.ID, .CreatedSince, …).
// human: -H; truncate: not --no-trunc.
TemplateValue history_fields(const HistoryRow& row, bool human, bool truncate, std::int64_t now);

// Docker's Ellipsis: text cut to max_chars characters, the last one "…".
std::string ellipsis(const std::string& text, std::size_t max_chars);

}  // namespace kiln::image
