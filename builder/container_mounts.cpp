#include "builder/container_mounts.hpp"

#include <sys/mount.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "builder/mount_flags.hpp"
#include "builder/run_image.hpp"
#include "image/detached_mount.hpp"
#include "image/store.hpp"
#include "runtime/container.hpp"
#include "runtime/container_config.hpp"
#include "runtime/container_records.hpp"
#include "runtime/tmpfs_mounts.hpp"
#include "runtime/volume_copy.hpp"
#include "runtime/volume_store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

unsigned long propagation_flags(const std::string& mode) {
    const bool recursive = mode.starts_with('r');
    const std::string kind = recursive ? mode.substr(1) : mode;
    unsigned long flags = kind == "shared" ? MS_SHARED : kind == "slave" ? MS_SLAVE : MS_PRIVATE;
    return recursive ? flags | MS_REC : flags;
}

std::size_t depth(const std::string& path) { return static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')); }

// Every explicit mount (-v then --mount), checked before any is recorded.
std::vector<MountRequest> explicit_mounts(const RunOptions& o) {
    std::vector<MountRequest> mounts;
    for (const auto& v : o.volumes) mounts.push_back(parse_volume_flag(v));
    for (const auto& m : o.mounts) mounts.push_back(parse_mount_flag(m));
    return mounts;
}

}  // namespace

void apply_mount_flags(image::Store& store, const RunOptions& o, const nlohmann::json& image_settings,
                       runtime::ContainerConfig& c) {
    const auto requests = explicit_mounts(o);
    std::set<std::string> taken;
    for (const auto& [path, options] : c.tmpfs) taken.insert(path);
    auto claim = [&](const std::string& destination) {
        if (!taken.insert(destination).second) throw Error("Duplicate mount point: " + destination);
    };
    std::vector<runtime::BindMount> binds;
    for (const auto& m : requests) {
        claim(m.destination);
        switch (m.type) {
            case MountType::bind:
                binds.push_back({m.source, m.destination, m.readonly});
                if (!m.propagation.empty()) c.bind_propagation[m.destination] = m.propagation;
                break;
            case MountType::volume: {
                const bool anonymous = m.source.empty();
                c.volumes.push_back({anonymous ? runtime::generate_volume_name() : m.source, m.destination, m.readonly,
                                     m.nocopy, anonymous, m.from_volume_flag ? (m.mode.empty() ? "z" : m.mode) : ""});
                break;
            }
            case MountType::tmpfs:
                runtime::tmpfs_mount(m.destination, m.tmpfs_options);
                c.tmpfs[m.destination] = m.tmpfs_options;
                break;
        }
    }
    // --volumes-from: the other container's volumes and binds where nothing above mounts.
    runtime::ContainerRecords records(store);
    for (const auto& from : o.volumes_from) {
        auto [name, mode] = parse_volumes_from(from);
        auto source = records.config(records.resolve(name));
        auto access = [&](bool readonly) { return mode.empty() ? readonly : mode == "ro"; };
        for (auto v : source.volumes) {
            if (!taken.insert(v.destination).second) continue;
            v.readonly = access(v.readonly);
            v.anonymous = false;  // still the other container's: its rm -v removes it
            c.volumes.push_back(v);
        }
        for (auto b : source.binds) {
            if (!taken.insert(b.destination).second) continue;
            b.readonly = access(b.readonly);
            if (auto p = source.bind_propagation.find(b.destination); p != source.bind_propagation.end())
                c.bind_propagation[b.destination] = p->second;
            binds.push_back(b);
        }
        c.volumes_from.push_back(from);
    }
    if (image_settings.contains("Volumes") && image_settings["Volumes"].is_object())
        for (const auto& [path, unused] : image_settings["Volumes"].items()) {
            if (!path.starts_with('/')) continue;  // Docker's builder refuses these; a loaded image might not
            const std::string destination = clean_path(path);
            if (destination == "/" || !taken.insert(destination).second) continue;
            c.volumes.push_back({runtime::generate_volume_name(), destination, false, false, true, ""});
        }
    // Last, once every flag is known good: Docker creates a missing -v host directory.
    for (const auto& m : requests)
        if (m.type == MountType::bind && m.from_volume_flag && !path_exists(m.source)) mkdir_p(m.source);
    c.binds.insert(c.binds.end(), binds.begin(), binds.end());
}

std::vector<std::string> prepare_volumes(image::Store& store, const RunOptions& options,
                                         const runtime::ContainerConfig& c) {
    if (c.volumes.empty()) return {};
    std::map<std::string, MountRequest> requested;
    for (const auto& m : options.mounts) {
        auto request = parse_mount_flag(m);
        if (request.type == MountType::volume && !request.source.empty()) requested[request.source] = request;
    }
    runtime::VolumeStore volumes(store.root());
    std::vector<std::string> created;
    try {
        UniqueFd image_root;
        for (const auto& v : c.volumes) {
            std::map<std::string, std::string> labels, volume_options;
            if (v.anonymous) labels[runtime::anonymous_volume_label] = "";
            if (auto r = requested.find(v.name); r != requested.end()) {
                labels.insert(r->second.volume_labels.begin(), r->second.volume_labels.end());
                volume_options = r->second.volume_options;
            }
            bool made = false;
            auto volume = volumes.find(v.name);
            if (!volume) volume = volumes.create(v.name, labels, volume_options, &made);
            if (made) created.push_back(v.name);
            if (v.nocopy || volume->is_tmpfs() || volume->bound_device() || !c.top_layer) continue;
            volumes.with_data_locked(*volume, [&](const std::string& data) {
                if (!volumes.empty(*volume)) return;
                if (!image_root) {
                    auto view = store.layers().view(Digest::parse(*c.top_layer));
                    view.readonly = true;
                    image_root = image::mount_detached(view);
                }
                runtime::copy_up(image_root.get(), v.destination, data);
            });
        }
    } catch (...) {
        undo_volumes(store, created);
        throw;
    }
    return created;
}

void undo_volumes(image::Store& store, const std::vector<std::string>& created) {
    if (created.empty()) return;
    runtime::VolumeStore volumes(store.root());
    runtime::VolumeStore::Lock lock(volumes);
    for (const auto& name : created) {
        try {
            volumes.remove(name);
        } catch (const Error&) {
        }
    }
}

void apply_volume_mounts(image::Store& store, const runtime::ContainerConfig& c, runtime::ContainerSpec& spec) {
    if (!c.volumes.empty()) {
        runtime::VolumeStore volumes(store.root());
        for (const auto& v : c.volumes) {
            auto volume = volumes.get(v.name);
            if (volume.is_tmpfs()) {
                auto o = volume.options.count("o") ? volume.options.at("o") : std::string();
                if (v.readonly) o += o.empty() ? "ro" : ",ro";
                spec.tmpfs.push_back(runtime::tmpfs_mount(v.destination, o));
                continue;
            }
            spec.binds.push_back({volume.bound_device().value_or(volume.mountpoint), v.destination, v.readonly});
        }
    }
    std::stable_sort(spec.binds.begin(), spec.binds.end(),
                     [](const runtime::BindMount& a, const runtime::BindMount& b) { return depth(a.destination) < depth(b.destination); });
    for (const auto& [destination, mode] : c.bind_propagation) spec.propagation.push_back({destination, propagation_flags(mode)});
}

}  // namespace kiln::builder
