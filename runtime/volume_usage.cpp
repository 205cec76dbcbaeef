#include "runtime/volume_usage.hpp"

#include "image/store.hpp"
#include "runtime/volume_store.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

std::vector<std::string> volume_users(image::Store& store, const std::string& name) {
    std::vector<std::string> ids;
    for (const auto& row : store.db().list_containers()) {
        ContainerConfig config;
        try {
            config = config_from_json(row.config);
        } catch (const Error&) {
            continue;  // an unreadable record mounts nothing kiln can tell
        }
        for (const auto& v : config.volumes)
            if (v.name == name) {
                ids.push_back(row.id);
                break;
            }
    }
    return ids;
}

void remove_anonymous_volumes(image::Store& store, const ContainerConfig& config) {
    VolumeStore volumes(store.root());
    VolumeStore::Lock lock(volumes);
    for (const auto& v : config.volumes) {
        if (!v.anonymous || !volume_users(store, v.name).empty() || !volumes.find(v.name)) continue;
        volumes.remove(v.name);
    }
}

}  // namespace kiln::runtime
