#pragma once
// `run`/`create`'s network flags: checked and recorded at create, turned into the spec's
// ContainerNetwork at each start.
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

// --network, --ip, --mac-address, --dns*, --add-host, -p and -P (with the image's
// ExposedPorts from image_settings) into c. Throws kiln::Error in one line for a bad
// value, an unknown network or a flag the network mode cannot have; creates nothing.
void apply_network_flags(image::Store& store, const RunOptions& o, const nlohmann::json& image_settings,
                         runtime::ContainerConfig& c);

// The spec's network from the record. --network container:X needs X running.
void apply_network_settings(image::Store& store, const runtime::ContainerConfig& c, runtime::ContainerSpec& spec);

}  // namespace kiln::builder
