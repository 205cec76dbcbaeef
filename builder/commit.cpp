#include "builder/commit.hpp"

#include "builder/config_edit.hpp"
#include "builder/image_config.hpp"
#include "image/blob_cache.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "image/tar_stream.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/container_changes.hpp"
#include "runtime/container_control.hpp"
#include "runtime/freezer.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

// Freezes a running container through the freezer `kiln pause` uses (cgroup2's
// cgroup.freeze, else the v1 freezer) for as long as this object lives, so the layer is one
// moment of its files. A container that was paused already stays so afterwards; one that
// does not run, or has no freezer group, is committed as it is (docker, too).
class Freeze {
public:
    explicit Freeze(const runtime::ContainerRow& row) {
        if (!runtime::open_container_init(row)) return;
        auto group = runtime::container_freezer(row.id);
        if (group.dir.empty() || runtime::freezer_frozen(group)) return;
        runtime::freezer_set(group, true);
        group_ = std::move(group);
    }
    ~Freeze() {
        if (group_.dir.empty()) return;
        try {
            runtime::freezer_set(group_, false);
        } catch (const Error&) {
            // The container went away meanwhile: nothing is left to thaw.
        }
    }
    Freeze(const Freeze&) = delete;
    Freeze& operator=(const Freeze&) = delete;

private:
    runtime::FreezerGroup group_;
};

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

// docker commit starts from the container's Config, which run's flags made from the
// image's; --change then edits it as a Dockerfile's lines edit a base image's (an
// ENTRYPOINT drops the CMD it came with).
ImageConfig container_image_config(nlohmann::json base, const runtime::ContainerConfig& container) {
    if (!base.is_object()) throw Error("the image config of the container is not a JSON object");
    auto& c = base["config"];
    if (!c.is_object()) c = nlohmann::json::object();
    auto list = [](const std::vector<std::string>& v) { return v.empty() ? nlohmann::json() : nlohmann::json(v); };
    c["Env"] = list(container.env);
    c["Entrypoint"] = list(container.entrypoint);
    c["Cmd"] = list(container.cmd);
    c["WorkingDir"] = container.cwd == "/" ? "" : container.cwd;
    c["User"] = container.user;
    c["Labels"] = container.labels.empty() ? nlohmann::json() : nlohmann::json(container.labels);
    if (container.stop_signal != "SIGTERM" || c.contains("StopSignal")) c["StopSignal"] = container.stop_signal;
    return ImageConfig::from_base(base);
}

}  // namespace

Digest commit_container(image::Store& store, const runtime::ContainerRow& row, const CommitOptions& options) {
    std::string ref = options.reference.empty() ? "" : image::parse_reference(options.reference).str();
    runtime::ContainerRecords records(store);
    const auto container = records.config(row);
    auto config = container_image_config(
        nlohmann::json::parse(store.images().config(Digest::parse(container.image_id))), container);
    apply_changes(config, options.changes);

    auto snapshot = store.layers().existing(runtime::container_snapshot_key(row.id));
    std::optional<image::StagedLayerWithTar> staged;
    {
        std::optional<Freeze> frozen;
        if (options.pause) frozen.emplace(row);
        image::TarWriteOptions write;
        write.skip = [](const std::string& name, const struct stat& st) {
            return runtime::runtime_mount_point("/" + name, st);
        };
        image::TarStream tar([&](const image::ByteSink& sink) { image::write_layer_tar(snapshot.upper_dir, sink, write); });
        staged.emplace(image::stage_layer_keeping_tar(store, tar.source()));
        tar.finish();
    }
    auto layer = image::publish_layer_keeping_tar(store, *staged, snapshot.parent);
    config.add_layer(layer.diff_id);
    config.add_history(joined(container.cmd), false, now_rfc3339(), options.message, options.author);
    if (!options.author.empty()) config.set_author(options.author);
    Digest id = store.images().put_image(config.serialize());
    if (!ref.empty()) store.images().tag(ref, id);
    return id;
}

}  // namespace kiln::builder
