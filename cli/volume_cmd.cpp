// `kiln volume create|ls|inspect|rm|prune`, as `docker volume` with the local driver.
#include <ctime>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/listing.hpp"
#include "cli/object_commands.hpp"
#include "image/store.hpp"
#include "runtime/volume_store.hpp"
#include "runtime/volume_usage.hpp"
#include "util/error.hpp"
#include "util/go_template.hpp"

namespace kiln::cli {

namespace {

// RFC 3339 in seconds, as Docker prints a volume's CreatedAt.
std::string created_at(std::int64_t ns) {
    std::time_t t = static_cast<std::time_t>(ns / 1000000000);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

TemplateValue map_or_null(const std::map<std::string, std::string>& m) {
    if (m.empty()) return TemplateValue();
    TemplateValue out = TemplateValue::object();
    for (const auto& [k, v] : m) out[k] = v;
    return out;
}

TemplateValue inspect_json(const runtime::Volume& v) {
    return {{"CreatedAt", created_at(v.created_ns)}, {"Driver", v.driver},   {"Labels", map_or_null(v.labels)},
            {"Mountpoint", v.mountpoint},           {"Name", v.name},       {"Options", map_or_null(v.options)},
            {"Scope", "local"}};
}

// --filter dangling=true|false, name=SUBSTRING, label=K[=V], driver=D: true when v passes all.
bool passes(image::Store& store, const runtime::Volume& v, const std::vector<std::string>& filters) {
    for (const auto& f : filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos) throw Error("bad format of filter (expected name=value)");
        std::string key = f.substr(0, eq), value = f.substr(eq + 1);
        if (key == "dangling") {
            if (value != "true" && value != "false" && value != "1" && value != "0")
                throw Error("invalid filter 'dangling=" + value + "'");
            const bool dangling = runtime::volume_users(store, v.name).empty();
            if (dangling != (value == "true" || value == "1")) return false;
        } else if (key == "name") {
            if (v.name.find(value) == std::string::npos) return false;
        } else if (key == "driver") {
            if (v.driver != value) return false;
        } else if (key == "label") {
            if (!labels_match(v.labels, value)) return false;
        } else {
            throw Error("invalid filter '" + key + "'");
        }
    }
    return true;
}

void add_create(CLI::App* volume, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string name, driver = "local";
        std::vector<std::string> labels, options;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = volume->add_subcommand("create", "Create a volume");
    cmd->add_option("VOLUME", f->name, "Name (default: 64 random hex digits)");
    cmd->add_option("-d,--driver", f->driver, "Volume driver (local)");
    repeatable(cmd->add_option("--label", f->labels, "Set metadata for a volume (K=V)"));
    repeatable(cmd->add_option("-o,--opt", f->options, "Driver options (type=tmpfs,device=tmpfs,o=size=64m or o=bind,device=DIR)"));
    cmd->callback([f, &global, &exit_code] {
        reported(exit_code, [&] {
            if (f->driver != "local") throw Error("create " + f->name + ": kiln has only the \"local\" volume driver");
            image::Store store(global.root);
            runtime::VolumeStore volumes(store.root());
            auto name = f->name.empty() ? runtime::generate_volume_name() : f->name;
            std::cout << volumes.create(name, key_value_pairs(f->labels), key_value_pairs(f->options)).name << std::endl;
        });
    });
}

void add_ls(CLI::App* volume, const GlobalOptions& global) {
    struct Flags {
        bool quiet = false;
        std::vector<std::string> filters;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = volume->add_subcommand("ls", "List volumes");
    cmd->alias("list");
    cmd->add_flag("-q,--quiet", f->quiet, "Only display volume names");
    repeatable(cmd->add_option("-f,--filter", f->filters, "Filter output (dangling=true, name=, label=, driver=)"));
    cmd->add_option("--format", f->format, "Format output using a Go template, or json");
    cmd->callback([f, &global] {
        image::Store store(global.root);
        runtime::VolumeStore volumes(store.root());
        std::vector<TemplateValue> rows;
        for (const auto& v : volumes.list()) {
            if (!passes(store, v, f->filters)) continue;
            rows.push_back({{"Driver", v.driver}, {"Name", v.name},   {"Mountpoint", v.mountpoint},
                            {"Labels", joined_labels(v.labels)},   {"Scope", "local"}, {"Size", "N/A"}});
        }
        Listing listing{"table {{.Driver}}\t{{.Name}}",
                        {{"Driver", "DRIVER"}, {"Name", "VOLUME NAME"}, {"Mountpoint", "MOUNTPOINT"},
                         {"Labels", "LABELS"}, {"Scope", "SCOPE"}, {"Size", "SIZE"}}};
        print_listing(std::cout, listing, f->quiet ? "{{.Name}}" : f->format, rows);
        std::cout << std::flush;
    });
}

void add_inspect(CLI::App* volume, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::vector<std::string> names;
        std::string format;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = volume->add_subcommand("inspect", "Display detailed information on one or more volumes");
    cmd->add_option("VOLUME", f->names, "Volumes")->required();
    cmd->add_option("-f,--format", f->format, "Format output using a Go template");
    cmd->callback([f, &global, &exit_code] {
        std::optional<GoTemplate> tmpl;
        if (!f->format.empty()) tmpl.emplace(f->format);
        image::Store store(global.root);
        runtime::VolumeStore volumes(store.root());
        TemplateValue all = TemplateValue::array();
        for (const auto& name : f->names)
            reported(exit_code, [&] {
                auto value = inspect_json(volumes.get(name));
                if (tmpl)
                    std::cout << tmpl->execute(value) << "\n";
                else
                    all.push_back(std::move(value));
            });
        if (!tmpl) std::cout << all.dump(4) << "\n";
        std::cout << std::flush;
    });
}

void add_rm(CLI::App* volume, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::vector<std::string> names;
        bool force = false;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = volume->add_subcommand("rm", "Remove one or more volumes");
    cmd->alias("remove");
    cmd->add_option("VOLUME", f->names, "Volumes")->required();
    // As with Docker, -f only silences a missing volume: one in use is never removed.
    cmd->add_flag("-f,--force", f->force, "Do not fail for a volume that does not exist");
    cmd->callback([f, &global, &exit_code] {
        image::Store store(global.root);
        runtime::VolumeStore volumes(store.root());
        for (const auto& name : f->names)
            reported(exit_code, [&] {
                runtime::VolumeStore::Lock lock(volumes);
                if (!volumes.find(name)) {
                    if (f->force) return;
                    volumes.get(name);  // throws Docker's "no such volume"
                }
                auto users = runtime::volume_users(store, name);
                if (!users.empty()) {
                    std::string list;
                    for (const auto& id : users) list += (list.empty() ? "" : ", ") + id;
                    throw Error("remove " + name + ": volume is in use - [" + list + "]");
                }
                volumes.remove(name);
                std::cout << name << std::endl;
            });
    });
}

void add_prune(CLI::App* volume, const GlobalOptions& global) {
    struct Flags {
        bool force = false, all = false;
        std::vector<std::string> filters;
    };
    auto f = std::make_shared<Flags>();
    auto* cmd = volume->add_subcommand("prune", "Remove unused local volumes");
    cmd->add_flag("-f,--force", f->force, "Do not prompt for confirmation");
    cmd->add_flag("-a,--all", f->all, "Remove all unused volumes, not just anonymous ones");
    repeatable(cmd->add_option("--filter", f->filters, "Provide filter values (label=K[=V])"));
    cmd->callback([f, &global] {
        image::Store store(global.root);
        runtime::VolumeStore volumes(store.root());
        for (const auto& v : volumes.list()) passes(store, v, f->filters);  // a bad filter fails before the question
        const char* warning = f->all ? "WARNING! This will remove all local volumes not used by at least one container."
                                     : "WARNING! This will remove anonymous local volumes not used by at least one container.";
        if (!f->force && !confirm(std::cout, warning)) return;
        std::uint64_t reclaimed = 0;
        std::string deleted;
        runtime::VolumeStore::Lock lock(volumes);
        for (const auto& v : volumes.list()) {
            if ((!f->all && !v.anonymous()) || !passes(store, v, f->filters)) continue;
            if (!runtime::volume_users(store, v.name).empty()) continue;
            reclaimed += volumes.size(v);
            volumes.remove(v.name);
            deleted += v.name + "\n";
        }
        if (!deleted.empty()) std::cout << "Deleted Volumes:\n" << deleted << "\n";
        std::cout << "Total reclaimed space: " << human_size(reclaimed) << std::endl;
    });
}

}  // namespace

void register_volume_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto* volume = subcommand_group(app, "volume", "Manage volumes");
    add_create(volume, global, exit_code);
    add_ls(volume, global);
    add_inspect(volume, global, exit_code);
    add_rm(volume, global, exit_code);
    add_prune(volume, global);
}

}  // namespace kiln::cli
