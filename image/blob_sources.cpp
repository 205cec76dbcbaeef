#include "image/blob_sources.hpp"

#include "image/metadata_db.hpp"
#include "image/store.hpp"

namespace kiln::image {

void record_blob_sources(Store& store, const std::string& domain, const std::string& repository,
                         const std::vector<Digest>& digests) {
    if (digests.empty()) return;
    store.db().in_transaction([&] {
        for (const auto& d : digests) store.db().blob_source_put(d, domain, repository);
    });
}

std::vector<std::string> blob_source_repositories(Store& store, const Digest& digest, const std::string& domain,
                                                  const std::string& except, std::size_t limit) {
    std::vector<std::string> out;
    for (auto& repo : store.db().blob_source_repositories(digest, domain)) {
        if (out.size() >= limit) break;
        if (repo != except) out.push_back(std::move(repo));
    }
    return out;
}

}  // namespace kiln::image
