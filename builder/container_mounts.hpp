#pragma once
// A container's mounts from run/create's -v, --mount, --volumes-from and its image's
// VOLUMEs, Docker's way: explicit mounts first, then those of --volumes-from containers,
// then an anonymous volume for each image VOLUME nothing else covers.
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kiln::image {
class Store;
}
namespace kiln::runtime {
struct ContainerConfig;
struct ContainerSpec;
}

namespace kiln::builder {

struct RunOptions;

// Records the mounts in c (binds, volumes, tmpfs, bind propagation), checking every flag
// first: a bad one is an error before anything changes. Only creates a missing -v host
// directory, as Docker does. image_settings: the image config's "config" object.
void apply_mount_flags(image::Store& store, const RunOptions& options, const nlohmann::json& image_settings,
                       runtime::ContainerConfig& c);

// Creates the volumes c mounts that do not exist yet (a named one on first use, with
// --mount's volume-label and volume-opt; the anonymous ones), then fills each empty one
// that allows it from the image's directory at its mount point (copy-up). Returns the
// names it created, for undo_volumes when what follows fails.
std::vector<std::string> prepare_volumes(image::Store& store, const RunOptions& options,
                                         const runtime::ContainerConfig& c);
void undo_volumes(image::Store& store, const std::vector<std::string>& created);

// The spec's mounts for c's volumes and bind propagation; binds ordered parents first, so
// a mount inside another's destination lands on top of it.
void apply_volume_mounts(image::Store& store, const runtime::ContainerConfig& c, runtime::ContainerSpec& spec);

}  // namespace kiln::builder
