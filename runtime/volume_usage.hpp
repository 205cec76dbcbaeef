#pragma once
// Which containers use which volumes: a volume named in a container's config is in use
// for as long as that container exists, running or not, as with Docker.
#include <string>
#include <vector>

#include "runtime/container_config.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::runtime {

// The ids of the containers whose config mounts the volume `name`.
std::vector<std::string> volume_users(image::Store& store, const std::string& name);

// `rm -v` and the removal of a `--rm` container: the anonymous volumes `config` made,
// unless another container mounts one of them too (through --volumes-from).
void remove_anonymous_volumes(image::Store& store, const ContainerConfig& config);

}  // namespace kiln::runtime
