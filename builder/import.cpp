#include "builder/import.hpp"

#include "builder/image_config.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"

namespace kiln::builder {

Digest import_rootfs(image::Store& store, int fd, const std::string& source,
                     const std::string& name, const std::string& message) {
    // Parse the name first: a bad name must not leave a layer behind.
    std::string ref = name.empty() ? "" : image::parse_reference(name).str();
    auto layer = store.layers().apply_tar(fd, std::nullopt);
    auto config = ImageConfig::scratch("linux", "amd64");
    config.add_layer(layer.diff_id);
    config.add_history("", false, now_rfc3339(),
                       message.empty() ? "Imported from " + source : message);
    Digest id = store.images().put_image(config.serialize());
    if (!ref.empty()) store.images().tag(ref, id);
    return id;
}

}  // namespace kiln::builder
