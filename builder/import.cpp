#include "builder/import.hpp"

#include "builder/config_edit.hpp"
#include "builder/image_config.hpp"
#include "image/blob_cache.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

Digest import_rootfs(image::Store& store, int fd, const std::string& source,
                     const std::string& name, const std::string& message, const std::vector<std::string>& changes) {
    // Names and changes are checked first: bad ones must not leave a layer behind.
    std::string ref = name.empty() ? "" : image::parse_reference(name).str();
    auto config = ImageConfig::scratch("linux", "amd64");
    apply_changes(config, changes);
    // The tar is kept beside the layer so `kiln save` can give back exactly these bytes.
    auto staged = image::stage_layer_keeping_tar(store, [fd](void* buf, std::size_t cap) {
        return read_some(fd, buf, cap, "the tarball");
    });
    auto layer = image::publish_layer_keeping_tar(store, staged, std::nullopt);
    config.add_layer(layer.diff_id);
    config.add_history("", false, now_rfc3339(),
                       message.empty() ? "Imported from " + source : message);
    Digest id = store.images().put_image(config.serialize());
    if (!ref.empty()) store.images().tag(ref, id);
    return id;
}

}  // namespace kiln::builder
