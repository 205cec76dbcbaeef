#include "builder/commit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "builder/config_edit.hpp"
#include "builder/image_config.hpp"
#include "image/blob_cache.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "image/tar_stream.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/container_changes.hpp"
#include "runtime/container_control.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

// Freezes a running container's processes through its cgroup2 group (cgroup.freeze) for
// as long as this object lives, so the layer is one moment of its files. A container that
// was frozen already (paused) stays so afterwards; one without a cgroup2 group is not
// frozen (docker, too, commits then without pausing).
class Freeze {
public:
    explicit Freeze(const runtime::ContainerRow& row) {
        if (!runtime::open_container_init(row)) return;
        runtime::ContainerCgroups groups;
        try {
            groups = runtime::find_container_cgroups(row.id);
        } catch (const Error&) {
            return;
        }
        if (!groups.v2_fd) return;
        UniqueFd freeze(::openat(groups.v2_fd.get(), "cgroup.freeze", O_RDWR | O_CLOEXEC));
        if (!freeze) return;
        char state = '0';
        if (::pread(freeze.get(), &state, 1, 0) == 1 && state == '1') return;
        if (::pwrite(freeze.get(), "1", 1, 0) != 1) throw_errno("freeze container " + row.id);
        freeze_ = std::move(freeze);
        wait_frozen(groups.v2_fd.get(), row.id);
    }
    ~Freeze() {
        if (freeze_) (void)!::pwrite(freeze_.get(), "0", 1, 0);
    }
    Freeze(const Freeze&) = delete;
    Freeze& operator=(const Freeze&) = delete;

private:
    static void wait_frozen(int group, const std::string& id) {
        for (int i = 0; i < 1000; ++i) {
            UniqueFd events(::openat(group, "cgroup.events", O_RDONLY | O_CLOEXEC));
            if (!events) throw_errno("read the cgroup events of container " + id);
            if (read_all(events.get(), "cgroup.events").find("frozen 1") != std::string::npos) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        throw Error("container " + id + " did not freeze within 5 s");
    }

    UniqueFd freeze_;
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
