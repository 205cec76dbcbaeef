#pragma once
// docker run --network and the flags that shape a container's network files, as a
// ContainerSpec carries them.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/host_settings.hpp"
#include "runtime/network/network_store.hpp"

namespace kiln::runtime {

struct ContainerNetwork {
    // none: a namespace of its own with only lo (the builder's RUN steps, and the default
    // of a spec); bridge: kiln0 (attachment.hpp); host: the host's (ContainerSpec's
    // host_network says the same); container: the namespace of another running container.
    // user: a user-defined network (user_network below).
    enum class Mode { none, bridge, host, container, user };
    Mode mode = Mode::none;
    std::optional<std::uint32_t> address;  // --ip (bridge)
    std::string mac;                       // --mac-address (bridge)
    PortMap ports;                         // -p/-P (bridge)
    std::vector<std::string> dns, dns_search, dns_options;
    // --add-host HOST:IP; IP "host-gateway" means the bridge's gateway.
    std::vector<std::pair<std::string, std::string>> extra_hosts;
    // container: the other container's id and its init's pid on the host.
    std::string join_id;
    pid_t join_pid = 0;
    std::optional<NetworkDefinition> user_network;
    std::vector<std::string> aliases;  // --network-alias (user)
    std::string container_name;        // what its peers on a user network resolve
    // The networks `network connect` added while the container was stopped: eth1, eth2…
    struct Connected {
        std::optional<NetworkDefinition> network;  // nullopt: kiln0
        std::vector<std::string> aliases;
        std::optional<std::uint32_t> address;
    };
    std::vector<Connected> connected;
};

}  // namespace kiln::runtime
