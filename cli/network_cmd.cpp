// `kiln network create|ls|inspect|rm|prune|connect|disconnect`, as `docker network` with the bridge driver.
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/listing.hpp"
#include "cli/object_commands.hpp"
#include "image/store.hpp"
#include "runtime/container_config.hpp"
#include "runtime/container_records.hpp"
#include "runtime/monitor/json_log.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/endpoint.hpp"
#include "runtime/network/network_setup.hpp"
#include "runtime/network/subnet_pool.hpp"
#include "runtime/runtime_dir.hpp"
#include "runtime/network/network_store.hpp"
#include "runtime/network/user_network.hpp"
#include "util/error.hpp"
#include "util/go_template.hpp"

namespace kiln::cli {

namespace {

// A network as inspect and ls show it: a stored one, or one of the predefined.
struct ShownNetwork {
    std::string id, name, driver;
    std::optional<runtime::NetworkDefinition> user;  // unset: predefined
};

// Docker gives the predefined networks ids of their own; kiln's are fixed, made from the name.
std::string predefined_id(const std::string& name) {
    std::string id;
    for (char c : name) id += "0123456789abcdef"[static_cast<unsigned char>(c) % 16];
    return id + std::string(64 - id.size(), '0');
}

std::vector<ShownNetwork> all_networks(runtime::NetworkStore& networks) {
    std::vector<ShownNetwork> out;
    for (const char* name : {"bridge", "host", "none"})
        out.push_back({predefined_id(name), name, std::string(name) == "none" ? "null" : name, std::nullopt});
    for (auto& n : networks.list()) out.push_back({n.id, n.name, n.driver, n});
    return out;
}

// Docker's resolution: exact name, full id, then a unique id prefix.
ShownNetwork find_network(runtime::NetworkStore& networks, const std::string& ref) {
    for (auto& n : all_networks(networks))
        if (!n.user && (n.name == ref || n.id == ref)) return n;
    auto user = networks.get(ref);
    return {user.id, user.name, user.driver, user};
}

TemplateValue string_map(const std::map<std::string, std::string>& m) {
    TemplateValue out = TemplateValue::object();
    for (const auto& [k, v] : m) out[k] = v;
    return out;
}

// The running containers attached to the user-defined network `id`.
std::vector<runtime::ContainerRow> attached(runtime::ContainerRecords& records, const std::string& id) {
    std::vector<runtime::ContainerRow> out;
    for (const auto& row : records.list())
        if (row.state == "running" && runtime::on_network(records.config(row).network, id)) out.push_back(row);
    return out;
}

// Whether any container, in any state, names the network.
bool used(runtime::ContainerRecords& records, const std::string& id) {
    for (const auto& row : records.list())
        if (runtime::on_network(records.config(row).network, id)) return true;
    return false;
}

TemplateValue inspect_json(runtime::ContainerRecords& records, const ShownNetwork& n) {
    TemplateValue config = TemplateValue::array();
    TemplateValue containers = TemplateValue::object();
    std::int64_t created_ns = 0;
    bool internal = false;
    TemplateValue labels = TemplateValue::object(), options = TemplateValue::object();
    if (n.user) {
        config.push_back({{"Subnet", n.user->subnet.text()}, {"Gateway", runtime::ipv4_text(n.user->gateway)}});
        created_ns = n.user->created_ns;
        internal = n.user->internal;
        labels = string_map(n.user->labels);
        options = string_map(n.user->options);
        for (const auto& row : attached(records, n.id)) {
            auto endpoint = runtime::endpoint_on_network(row.id, n.id);
            if (!endpoint) continue;
            containers[row.id] = {{"Name", row.name},
                                  {"EndpointID", row.id},
                                  {"MacAddress", endpoint->mac},
                                  {"IPv4Address", endpoint->address + "/" + std::to_string(endpoint->prefix_len)},
                                  {"IPv6Address", ""}};
        }
    }
    return {{"Name", n.name},
            {"Id", n.id},
            {"Created", runtime::rfc3339_nano(created_ns)},
            {"Scope", "local"},
            {"Driver", n.driver},
            {"EnableIPv6", false},
            {"IPAM", {{"Driver", "default"}, {"Options", TemplateValue::object()}, {"Config", config}}},
            {"Internal", internal},
            {"Attachable", false},
            {"Ingress", false},
            {"ConfigFrom", {{"Network", ""}}},
            {"ConfigOnly", false},
            {"Containers", containers},
            {"Options", options},
            {"Labels", labels}};
}

// --filter name=SUBSTRING, id=PREFIX, driver=D, label=K[=V]: true when n passes all.
bool passes(const ShownNetwork& n, const std::vector<std::string>& filters) {
    for (const auto& f : filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos) throw Error("bad format of filter (expected name=value)");
        std::string key = f.substr(0, eq), value = f.substr(eq + 1);
        if (key == "name") {
            if (n.name.find(value) == std::string::npos) return false;
        } else if (key == "id") {
            if (!n.id.starts_with(value)) return false;
        } else if (key == "driver") {
            if (n.driver != value) return false;
        } else if (key == "label") {
            if (!n.user || !labels_match(n.user->labels, value)) return false;
        } else if (key == "type") {
            if (value != "custom" && value != "builtin") throw Error("invalid filter 'type=" + value + "'");
            if ((value == "custom") != n.user.has_value()) return false;
        } else {
            throw Error("invalid filter '" + key + "'");
        }
    }
    return true;
}

void add_create(CLI::App* network, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        runtime::NetworkCreateRequest request;
        std::vector<std::string> labels, options;
        std::string ipam_driver = "default";
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("create", "Create a network");
    cmd->add_option("NETWORK", f->request.name, "Name")->required();
    cmd->add_option("-d,--driver", f->request.driver, "Driver to manage the network (bridge)");
    cmd->add_option("--subnet", f->request.subnet, "Subnet in CIDR format");
    cmd->add_option("--gateway", f->request.gateway, "IPv4 gateway of the subnet");
    cmd->add_flag("--internal", f->request.internal, "Restrict external access to the network");
    cmd->add_option("--ipam-driver", f->ipam_driver, "IP address management driver (default)");
    repeatable(cmd->add_option("--label", f->labels, "Set metadata on a network"));
    repeatable(cmd->add_option("-o,--opt", f->options, "Set driver specific options"));
    cmd->callback([f, &global, &exit_code] {
        reported(exit_code, [&] {
            if (f->ipam_driver != "default") throw Error("plugin \"" + f->ipam_driver + "\" not found");
            image::Store store(global.root);
            f->request.labels = key_value_pairs(f->labels);
            f->request.options = key_value_pairs(f->options);
            std::cout << runtime::NetworkStore(store.root()).create(f->request).id << std::endl;
        });
    });
}

void add_ls(CLI::App* network, const GlobalOptions& global) {
    struct Flags {
        bool quiet = false, no_trunc = false;
        std::vector<std::string> filters;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("ls", "List networks");
    cmd->alias("list");
    cmd->add_flag("-q,--quiet", f->quiet, "Only display network IDs");
    cmd->add_flag("--no-trunc", f->no_trunc, "Do not truncate the output");
    repeatable(cmd->add_option("-f,--filter", f->filters, "Provide filter values (name=, id=, driver=, label=, type=)"));
    cmd->add_option("--format", f->format, "Format output using a Go template, or json");
    cmd->callback([f, &global] {
        image::Store store(global.root);
        runtime::NetworkStore networks(store.root());
        std::vector<TemplateValue> rows;
        for (const auto& n : all_networks(networks)) {
            if (!passes(n, f->filters)) continue;
            rows.push_back({{"ID", f->no_trunc ? n.id : n.id.substr(0, 12)},
                            {"Name", n.name},
                            {"Driver", n.driver},
                            {"Scope", "local"},
                            {"IPv6", "false"},
                            {"Internal", n.user && n.user->internal ? "true" : "false"},
                            {"Labels", n.user ? joined_labels(n.user->labels) : std::string()},
                            {"CreatedAt", runtime::rfc3339_nano(n.user ? n.user->created_ns : 0)}});
        }
        Listing listing{"table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                        {{"ID", "NETWORK ID"}, {"Name", "NAME"}, {"Driver", "DRIVER"}, {"Scope", "SCOPE"},
                         {"IPv6", "IPV6"}, {"Internal", "INTERNAL"}, {"Labels", "LABELS"}, {"CreatedAt", "CREATED"}}};
        print_listing(std::cout, listing, f->quiet ? "{{.ID}}" : f->format, rows);
        std::cout << std::flush;
    });
}

void add_inspect(CLI::App* network, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::vector<std::string> refs;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("inspect", "Display detailed information on one or more networks");
    cmd->add_option("NETWORK", f->refs, "Networks")->required();
    cmd->add_option("-f,--format", f->format, "Format output using a Go template");
    cmd->callback([f, &global, &exit_code] {
        std::optional<GoTemplate> tmpl;
        if (!f->format.empty()) tmpl.emplace(f->format);
        image::Store store(global.root);
        runtime::NetworkStore networks(store.root());
        runtime::ContainerRecords records(store);
        TemplateValue all = TemplateValue::array();
        for (const auto& ref : f->refs)
            reported(exit_code, [&] {
                auto value = inspect_json(records, find_network(networks, ref));
                if (tmpl)
                    std::cout << tmpl->execute(value) << "\n";
                else
                    all.push_back(std::move(value));
            });
        if (!tmpl) std::cout << all.dump(4) << "\n";
        std::cout << std::flush;
    });
}

// Removes a network nothing runs on; the caller holds the store's lock.
void remove_network(runtime::NetworkStore& networks, const runtime::NetworkDefinition& n) {
    runtime::remove_network_bridge(n);
    networks.remove(n);
}

void add_rm(CLI::App* network, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::vector<std::string> refs;
        bool force = false;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("rm", "Remove one or more networks");
    cmd->alias("remove");
    cmd->add_option("NETWORK", f->refs, "Networks")->required();
    cmd->add_flag("-f,--force", f->force, "Do not error if the network does not exist");
    cmd->callback([f, &global, &exit_code] {
        image::Store store(global.root);
        runtime::NetworkStore networks(store.root());
        runtime::ContainerRecords records(store);
        for (const auto& ref : f->refs)
            reported(exit_code, [&] {
                if (runtime::is_predefined_network(ref))
                    throw Error(ref + " is a pre-defined network and cannot be removed");
                runtime::NetworkStore::Lock lock;
                auto n = networks.find(ref);
                if (!n) {
                    if (f->force) return;
                    throw Error("network " + ref + " not found");
                }
                if (!attached(records, n->id).empty())
                    throw Error("error while removing network: network " + n->name + " id " + n->id +
                                " has active endpoints");
                remove_network(networks, *n);
                std::cout << ref << std::endl;
            });
    });
}

void add_prune(CLI::App* network, const GlobalOptions& global) {
    struct Flags {
        bool force = false;
        std::vector<std::string> filters;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("prune", "Remove all unused networks");
    cmd->add_flag("-f,--force", f->force, "Do not prompt for confirmation");
    repeatable(cmd->add_option("--filter", f->filters, "Provide filter values (label=K[=V])"));
    cmd->callback([f, &global] {
        image::Store store(global.root);
        runtime::NetworkStore networks(store.root());
        runtime::ContainerRecords records(store);
        for (const auto& n : all_networks(networks)) passes(n, f->filters);  // a bad filter fails before the question
        if (!f->force &&
            !confirm(std::cout, "WARNING! This will remove all custom networks not used by at least one container."))
            return;
        std::string deleted;
        runtime::NetworkStore::Lock lock;
        for (const auto& n : all_networks(networks)) {
            if (!n.user || !passes(n, f->filters) || used(records, n.id)) continue;
            remove_network(networks, *n.user);
            deleted += n.name + "\n";
        }
        if (!deleted.empty()) std::cout << "Deleted Networks:\n" << deleted << std::flush;
    });
}


// The network as a container record names it: its id, or "" for kiln0; host and none
// cannot be connected to or disconnected from.
std::string connectable_id(const ShownNetwork& n) {
    if (n.name == "host" && !n.user) throw Error("container cannot be disconnected from host network or connected to host network");
    if (n.name == "none" && !n.user)
        throw Error("container cannot be connected to multiple networks with one of the networks in private (none) mode");
    return n.user ? n.id : "";
}

struct NetworkAndContainer {
    ShownNetwork network;
    std::string network_id;  // "": kiln0
    runtime::ContainerRow container;
    runtime::NetworkConfig container_networks;
};

// What connect and disconnect act on, resolved as Docker resolves them.
NetworkAndContainer network_and_container(image::Store& store, runtime::ContainerRecords& records,
                                          const std::string& network_ref, const std::string& container_ref) {
    runtime::NetworkStore networks(store.root());
    NetworkAndContainer out{find_network(networks, network_ref), "", {}, {}};
    out.network_id = connectable_id(out.network);
    out.container = records.refresh(records.resolve(container_ref));
    out.container_networks = records.config(out.container).network;
    return out;
}

std::string runtime_dir_of(const std::string& id) { return runtime::runtime_dirs_parent() + "/" + id; }

void add_connect(CLI::App* network, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string network, container, ip;
        std::vector<std::string> aliases;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("connect", "Connect a container to a network");
    cmd->add_option("NETWORK", f->network, "Network")->required();
    cmd->add_option("CONTAINER", f->container, "Container")->required();
    repeatable(cmd->add_option("--alias", f->aliases, "Add network-scoped alias for the container"));
    cmd->add_option("--ip", f->ip, "IPv4 address");
    cmd->callback([f, &global, &exit_code] {
        reported(exit_code, [&] {
            image::Store store(global.root);
            runtime::ContainerRecords records(store);
            auto [n, id, row, net] = network_and_container(store, records, f->network, f->container);
            if (net.mode == "host" || net.mode == "none" || net.mode.starts_with("container:"))
                throw Error("container sharing network namespace with another container or host cannot be connected to "
                            "any other network");
            if (runtime::on_network(net, id))
                throw Error("endpoint with name " + row.name + " already exists in network " + n.name);
            if (!n.user && !f->aliases.empty())
                throw Error("network-scoped alias is supported only for containers in user defined networks");
            if (!n.user && !f->ip.empty())
                throw Error("user specified IP address is supported on user defined networks only");
            for (const auto& alias : f->aliases) runtime::validate_host_alias(alias);
            std::optional<std::uint32_t> address;
            if (!f->ip.empty() && !(address = runtime::parse_ipv4(f->ip)))
                throw Error("invalid IPv4 address: " + f->ip);
            if (row.state == "running") {
                auto netns = runtime::join_container_netns(row.id, static_cast<pid_t>(row.pid));
                std::string names = row.name;
                for (const auto& alias : f->aliases) names += " " + alias;
                runtime::connect_endpoint({row.id, runtime_dir_of(row.id), netns.get(), n.user, address,
                                           names + " " + row.id.substr(0, 12)});
            }
            net.connected.push_back({n.name, id, f->aliases, f->ip});
            records.set_network(row, net);
        });
    });
}

void add_disconnect(CLI::App* network, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string network, container;
        bool force = false;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = network->add_subcommand("disconnect", "Disconnect a container from a network");
    cmd->add_option("NETWORK", f->network, "Network")->required();
    cmd->add_option("CONTAINER", f->container, "Container")->required();
    cmd->add_flag("-f,--force", f->force, "Force the container to disconnect from a network");
    cmd->callback([f, &global, &exit_code] {
        reported(exit_code, [&] {
            image::Store store(global.root);
            runtime::ContainerRecords records(store);
            auto [n, id, row, net] = network_and_container(store, records, f->network, f->container);
            auto it = std::find_if(net.connected.begin(), net.connected.end(),
                                   [&](const auto& c) { return c.network_id == id; });
            if (!runtime::on_network(net, id)) {
                if (f->force) return;
                throw Error("container " + row.id + " is not connected to network " + n.name);
            }
            if (row.state == "running") runtime::disconnect_endpoint(runtime_dir_of(row.id), id);
            if (it != net.connected.end()) net.connected.erase(it);
            else net.first_disconnected = true;
            records.set_network(row, net);
        });
    });
}

}  // namespace

void register_network_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto* network = subcommand_group(app, "network", "Manage networks");
    add_create(network, global, exit_code);
    add_ls(network, global);
    add_inspect(network, global, exit_code);
    add_rm(network, global, exit_code);
    add_prune(network, global);
    add_connect(network, global, exit_code);
    add_disconnect(network, global, exit_code);
}

}  // namespace kiln::cli
