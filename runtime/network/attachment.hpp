#pragma once
// One container on the default bridge: its address lease, a network namespace made
// beforehand and configured from here (eth0 with its address and MAC, lo, the default
// route via kiln0), the veth between the two, and the DNAT rules of its published ports.
// The container process joins the namespace with setns() before it execs, so nothing
// has to happen between clone and exec. Everything is listed in the runtime dir first
// (netlink/release.hpp), so whoever outlives the container can release it.
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/host_settings.hpp"
#include "runtime/network/ipv4.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

struct BridgeRequest {
    std::string container_id;
    std::string runtime_dir;
    std::optional<std::uint32_t> address;  // --ip
    std::string mac;                       // --mac-address; "": Docker's, from the address
    PortMap ports;                         // -p/-P; a host port "" (or "0") is any free one
};

// What inspect shows of a running container's attachment (read back from its runtime dir).
struct BridgeEndpoint {
    std::string address, gateway, mac;
    int prefix_len = 0;
};

class BridgeAttachment {
public:
    // Throws kiln::Error (a host port in use, a bad --ip, ...) having released what it made.
    explicit BridgeAttachment(const BridgeRequest& request);
    // Releases everything unless the container's monitor took over; the veth goes with the
    // namespace, in the kernel's time.
    ~BridgeAttachment();
    BridgeAttachment(const BridgeAttachment&) = delete;
    BridgeAttachment& operator=(const BridgeAttachment&) = delete;

    int netns_fd() const { return netns_.get(); }
    std::uint32_t address() const { return address_; }
    std::uint32_t gateway() const { return subnet_.gateway(); }

private:
    void attach(const BridgeRequest& request);
    std::string runtime_dir_;
    UniqueFd netns_;
    Subnet subnet_;
    std::uint32_t address_ = 0;
};

// The endpoint of a running container (its runtime dir's attachment file); nullopt when
// it has none (not running, or not on the bridge).
std::optional<BridgeEndpoint> bridge_endpoint(const std::string& container_id);

// The ports a running container publishes, with the host ports chosen for it (Docker's
// NetworkSettings.Ports); empty when it is not running.
PortMap published_ports(const std::string& container_id);

}  // namespace kiln::runtime
