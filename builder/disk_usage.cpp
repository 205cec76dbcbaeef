#include "builder/disk_usage.hpp"

#include <set>

#include "image/store.hpp"

namespace kiln::builder {

namespace {

std::uint64_t size_of(const std::map<Digest, std::uint64_t>& sizes, const Digest& chain) {
    auto it = sizes.find(chain);
    return it == sizes.end() ? 0 : it->second;
}

}  // namespace

std::vector<ImageSpace> image_space(const std::vector<ImageStack>& stacks,
                                    const std::map<Digest, std::uint64_t>& layer_sizes) {
    std::map<Digest, int> holders;
    for (const auto& stack : stacks)
        for (const auto& chain : std::set<Digest>(stack.chains.begin(), stack.chains.end())) ++holders[chain];
    std::vector<ImageSpace> out;
    for (const auto& stack : stacks) {
        ImageSpace space{stack.id, stack.names, stack.created, 0, 0, 0};
        for (const auto& chain : stack.chains) {
            auto size = size_of(layer_sizes, chain);
            space.size += size;
            if (holders[chain] > 1) space.shared += size;
        }
        space.unique = space.size - space.shared;
        out.push_back(std::move(space));
    }
    return out;
}

std::uint64_t distinct_layer_bytes(const std::vector<ImageStack>& stacks,
                                   const std::map<Digest, std::uint64_t>& layer_sizes) {
    std::set<Digest> seen;
    std::uint64_t total = 0;
    for (const auto& stack : stacks)
        for (const auto& chain : stack.chains)
            if (seen.insert(chain).second) total += size_of(layer_sizes, chain);
    return total;
}

DiskUsage disk_usage(image::Store& store) {
    auto& db = store.db();
    std::map<Digest, std::uint64_t> sizes;
    for (const auto& row : db.list_layers()) sizes[row.chain_id] = row.size;
    std::vector<ImageStack> stacks;
    for (const auto& img : store.images().list()) {
        ImageStack stack{img.id, img.names, img.created, {}};
        if (img.top_chain_id)
            for (const auto& row : db.layer_chain(*img.top_chain_id)) stack.chains.push_back(row.chain_id);
        stacks.push_back(std::move(stack));
    }
    DiskUsage usage;
    usage.images = image_space(stacks, sizes);
    usage.images_size = distinct_layer_bytes(stacks, sizes);
    usage.cache = cache_records(store);
    return usage;
}

}  // namespace kiln::builder
