#pragma once
// User-defined networks (`kiln network create`) kept in the store: <root>/networks/<id>.json
// holds what each was created with, made by an atomic write and taken by a rename. Bridges
// are host-wide while stores are not, so every network also reserves its subnet host-wide
// (network_state_dir()/nets/<id>/reservation, naming the definition it belongs to): a
// network of another store, kiln0 and the host's routes are all checked before a subnet
// is chosen or accepted. Changes hold the host-wide lock, so concurrent creates never
// get overlapping subnets or one name twice.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/network/ipv4.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

struct NetworkDefinition {
    std::string id;  // 64 hex
    std::string name;
    std::string driver = "bridge";
    std::int64_t created_ns = 0;
    Subnet subnet;
    std::uint32_t gateway = 0;
    bool internal = false;
    std::map<std::string, std::string> labels, options;
};

struct NetworkCreateRequest {
    std::string name, driver = "bridge", subnet, gateway;  // subnet/gateway "": chosen
    bool internal = false;
    std::map<std::string, std::string> labels, options;
};

// Docker's predefined networks, which are listed but never stored or removed.
bool is_predefined_network(const std::string& name);

// The subnets every live user-defined network of any store on this host has reserved.
std::vector<Subnet> reserved_network_subnets();

// The host-wide directory of network `id` (its reservation, leases and members).
std::string network_host_dir(const std::string& id);

class NetworkStore {
public:
    explicit NetworkStore(const std::string& store_root);

    // The host-wide lock on network definitions and reservations.
    class Lock {
    public:
        Lock();

    private:
        UniqueFd fd_;
    };

    // Checks everything (driver, name, subnet, gateway, overlaps) and creates nothing on
    // an error, which is one line in Docker's words.
    NetworkDefinition create(const NetworkCreateRequest& request);
    // By exact name, full id or unique id prefix, as Docker resolves networks.
    std::optional<NetworkDefinition> find(const std::string& ref) const;
    // find, or kiln::Error "network REF not found".
    NetworkDefinition get(const std::string& ref) const;
    std::vector<NetworkDefinition> list() const;  // by name
    // Removes the definition and its reservation; the caller holds a Lock, has checked no
    // container is attached and has removed its bridge and rules (user_network.hpp).
    void remove(const NetworkDefinition& network);

private:
    std::string path(const std::string& id) const { return root_ + "/" + id + ".json"; }
    std::string root_;  // <store>/networks
};

}  // namespace kiln::runtime
