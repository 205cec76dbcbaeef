#pragma once
#include <memory>
#include <string>

#include "image/content_store.hpp"
#include "image/image_store.hpp"
#include "image/layer_store.hpp"
#include "image/metadata_db.hpp"

namespace kiln::image {

// The whole store under one root (default /var/lib/kiln): opening it creates what is
// missing, migrates the database and clears leftovers of crashed processes. Several
// processes may have the same store open at once; SQLite and per-entry locks keep them
// apart.
class Store {
public:
    static constexpr const char* kDefaultRoot = "/var/lib/kiln";

    // root: made absolute (mount options and links rely on it).
    explicit Store(std::string root);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // KILN_ROOT if set and non-empty, else kDefaultRoot.
    static std::string default_root();

    const std::string& root() const { return root_; }
    MetadataDb& db() { return *db_; }
    ContentStore& content() { return *content_; }
    LayerStore& layers() { return *layers_; }
    ImageStore& images() { return *images_; }

private:
    std::string root_;
    std::unique_ptr<MetadataDb> db_;
    std::unique_ptr<ContentStore> content_;
    std::unique_ptr<LayerStore> layers_;
    std::unique_ptr<ImageStore> images_;
};

}  // namespace kiln::image
