#include "image/store.hpp"

#include <cstdlib>
#include <filesystem>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

std::string Store::default_root() {
    const char* env = std::getenv("KILN_ROOT");
    return env && *env ? std::string(env) : std::string(kDefaultRoot);
}

Store::Store(std::string root) {
    if (root.empty()) throw Error("store: empty root path");
    std::error_code ec;
    auto abs = std::filesystem::absolute(root, ec);
    if (ec) throw Error("store: bad root " + root + ": " + ec.message());
    root_ = clean_path(abs.string());
    // The root appears in overlay mount options, where these characters are separators.
    if (root_.find_first_of(",:=\\") != std::string::npos)
        throw Error("store: root " + root_ + " must not contain ',', ':', '=' or '\\'");
    for (const char* sub : {"", "/tmp", "/blobs/sha256", "/layers", "/l", "/snapshots", "/containers"})
        mkdir_p(root_ + sub);
    db_ = std::make_unique<MetadataDb>(root_ + "/kiln.db");
    content_ = std::make_unique<ContentStore>(root_);
    layers_ = std::make_unique<LayerStore>(root_, *db_);
    images_ = std::make_unique<ImageStore>(*db_, *content_, *layers_);
    layers_->cleanup();
}

Store::~Store() = default;

}  // namespace kiln::image
