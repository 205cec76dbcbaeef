#include "image/image_prune.hpp"

#include <cctype>
#include <map>

#include "image/store.hpp"

namespace kiln::image {

ImagePruneReport prune_images(Store& store, const std::vector<Digest>& images, long min_layer_age) {
    ImagePruneReport report;
    auto& db = store.db();
    std::map<Digest, std::uint64_t> layer_sizes;
    for (const auto& row : db.list_layers()) layer_sizes[row.chain_id] = row.size;

    for (const auto& id : images) {
        auto row = db.get_image(id);
        if (!row) continue;  // removed meanwhile by another kiln
        auto config_size = store.content().size(row->config_digest).value_or(0);
        for (auto line : store.images().remove(id.str(), true)) {
            // docker prune prints rmi's lines starting in lower case.
            if (!line.empty()) line[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(line[0])));
            report.lines.push_back(std::move(line));
        }
        report.reclaimed += config_size;
    }
    for (const auto& chain : store.layers().gc(min_layer_age))
        report.lines.push_back("deleted: " + chain.str());
    std::map<Digest, std::uint64_t> left;
    for (const auto& row : db.list_layers()) left[row.chain_id] = row.size;
    for (const auto& [chain, size] : layer_sizes)
        if (!left.count(chain)) report.reclaimed += size;
    for (const auto& blob : db.orphan_layer_blobs()) {
        db.delete_blob(blob.digest);
        if (store.content().remove(blob.digest)) report.reclaimed += blob.size;
    }
    return report;
}

}  // namespace kiln::image
