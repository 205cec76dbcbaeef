#include "runtime/network/network_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/container.hpp"
#include "runtime/container_records.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/subnet_pool.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

std::string nets_dir() {
    std::string d = network_state_dir() + "/nets";
    mkdir_p(d);
    return d;
}

std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (auto* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::string definition_json(const NetworkDefinition& n) {
    return nlohmann::json{{"id", n.id},
                          {"name", n.name},
                          {"driver", n.driver},
                          {"created_ns", n.created_ns},
                          {"subnet", n.subnet.text()},
                          {"gateway", ipv4_text(n.gateway)},
                          {"internal", n.internal},
                          {"labels", n.labels},
                          {"options", n.options}}
        .dump();
}

NetworkDefinition definition_from_json(const std::string& text, const std::string& where) {
    try {
        auto j = nlohmann::json::parse(text);
        NetworkDefinition n;
        n.id = j.at("id");
        n.name = j.at("name");
        n.driver = j.at("driver");
        n.created_ns = j.at("created_ns");
        n.subnet = parse_cidr(j.at("subnet"));
        auto gateway = parse_ipv4(j.at("gateway"));
        if (!gateway || !n.subnet.contains(*gateway)) throw Error("bad gateway");
        n.gateway = *gateway;
        n.internal = j.at("internal");
        n.labels = j.at("labels");
        n.options = j.at("options");
        validate_network_name(n.name);
        if (n.id.size() != 64 || n.id.find_first_not_of("0123456789abcdef") != std::string::npos)
            throw Error("bad id");
        return n;
    } catch (const std::exception& e) {
        throw Error("network definition " + where + " is damaged: " + e.what());
    }
}

std::string reservation_path(const std::string& id) { return network_host_dir(id) + "/reservation"; }

// The subnet kiln0 has, or would get now.
Subnet default_bridge_subnet() {
    if (auto existing = existing_bridge_subnet()) return *existing;
    return choose_bridge_subnet(read_file("/proc/net/route"));
}

}  // namespace

bool is_predefined_network(const std::string& name) { return name == "bridge" || name == "host" || name == "none"; }

std::string network_host_dir(const std::string& id) { return nets_dir() + "/" + id; }

std::vector<Subnet> reserved_network_subnets() {
    std::vector<Subnet> out;
    for (const auto& id : entries(nets_dir())) {
        std::string text;
        try {
            text = read_file(reservation_path(id));
        } catch (const Error&) {
            continue;
        }
        std::istringstream fields(text);
        std::string subnet, definition;
        fields >> subnet >> definition;
        // A store removed without `network rm` leaves a reservation that holds nothing.
        if (!path_exists(definition)) continue;
        try {
            out.push_back(parse_cidr(subnet));
        } catch (const Error&) {
        }
    }
    return out;
}

NetworkStore::NetworkStore(const std::string& store_root) : root_(store_root + "/networks") { mkdir_p(root_); }

NetworkStore::Lock::Lock() {
    const std::string path = nets_dir() + "/.lock";
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw_errno("open " + path);
    while (::flock(fd_.get(), LOCK_EX) != 0)
        if (errno != EINTR) throw_errno("lock " + path);
}

NetworkDefinition NetworkStore::create(const NetworkCreateRequest& request) {
    if (request.driver != "bridge")
        throw Error("plugin \"" + request.driver + "\" not found: kiln has only the bridge network driver");
    validate_network_name(request.name);
    for (const auto& [key, value] : request.options)
        throw Error("invalid option " + key + ": kiln's bridge driver takes no -o options");
    Lock lock;
    if (is_predefined_network(request.name) || find(request.name))
        throw Error("network with name " + request.name + " already exists");
    std::vector<Subnet> taken = route_subnets(read_file("/proc/net/route"));
    taken.push_back(default_bridge_subnet());
    for (const auto& s : reserved_network_subnets()) taken.push_back(s);
    NetworkDefinition n;
    if (!request.subnet.empty()) {
        n.subnet = parse_cidr(request.subnet);
        if (overlaps_any(n.subnet, taken))
            throw Error("invalid pool request: Pool overlaps with other one on this address space");
    } else {
        if (!request.gateway.empty()) throw Error("every ip-range or gateway must have a corresponding subnet");
        n.subnet = choose_network_subnet(taken);
    }
    n.gateway = n.subnet.gateway();
    if (!request.gateway.empty()) {
        auto gateway = parse_ipv4(request.gateway);
        if (!gateway) throw Error("invalid gateway " + request.gateway + ": not an IPv4 address");
        if (!n.subnet.contains(*gateway) || *gateway == n.subnet.network || *gateway == n.subnet.broadcast())
            throw Error("invalid gateway " + request.gateway + ": it is not a host address of the subnet " +
                        n.subnet.text());
        n.gateway = *gateway;
    }
    n.id = generate_container_id();
    n.name = request.name;
    n.driver = request.driver;
    n.created_ns = unix_now_ns();
    n.internal = request.internal;
    n.labels = request.labels;
    n.options = request.options;
    // Reserved first: a crash between the two leaves a reservation without a definition,
    // which reserved_network_subnets() ignores.
    mkdir_p(network_host_dir(n.id));
    atomic_write(reservation_path(n.id), n.subnet.text() + " " + path(n.id) + "\n");
    atomic_write(path(n.id), definition_json(n), 0600);
    return n;
}

std::optional<NetworkDefinition> NetworkStore::find(const std::string& ref) const {
    if (ref.empty()) return std::nullopt;
    std::optional<NetworkDefinition> by_prefix;
    int prefix_matches = 0;
    for (const auto& n : list()) {
        if (n.name == ref || n.id == ref) return n;
        if (n.id.starts_with(ref)) {
            ++prefix_matches;
            by_prefix = n;
        }
    }
    if (prefix_matches > 1) throw Error("network " + ref + " is ambiguous (" + std::to_string(prefix_matches) + " matches found based on ID prefix)");
    return by_prefix;
}

NetworkDefinition NetworkStore::get(const std::string& ref) const {
    auto n = find(ref);
    if (!n) throw Error("network " + ref + " not found");
    return *n;
}

std::vector<NetworkDefinition> NetworkStore::list() const {
    std::vector<NetworkDefinition> out;
    for (const auto& name : entries(root_)) {
        if (!name.ends_with(".json")) continue;
        std::string text;
        try {
            text = read_file(root_ + "/" + name);
        } catch (const Error&) {
            continue;  // removed meanwhile
        }
        out.push_back(definition_from_json(text, root_ + "/" + name));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

void NetworkStore::remove(const NetworkDefinition& network) {
    if (::unlink(path(network.id).c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path(network.id));
    remove_all(network_host_dir(network.id));
}

}  // namespace kiln::runtime
