// kiln inspect, image inspect, history, image tree, diff: reading an image without changing it.
#include <ctime>
#include <functional>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "cli/listing.hpp"
#include "image/image_inspect.hpp"
#include "image/layer_diff.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "runtime/container_changes.hpp"
#include "runtime/container_records.hpp"
#include "util/error.hpp"
#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

std::optional<Digest> find_image(image::Store& store, const std::string& name) {
    try {
        return store.images().resolve(name);
    } catch (const Error&) {
        return std::nullopt;  // an ambiguous id prefix names no one image
    }
}

std::optional<TemplateValue> inspect_image_named(image::Store& store, const std::string& name) {
    auto id = find_image(store, name);
    if (!id) return std::nullopt;
    return image::inspect_image(store, *id);
}

// What `kiln inspect` can find by name, tried in order.
struct InspectKind {
    std::string type;  // as --type names it
    std::function<std::optional<TemplateValue>(image::Store&, const std::string&)> find;
};

std::vector<InspectKind> inspect_kinds() {
    return {{"container", inspect_container_named}, {"image", inspect_image_named}};
}

struct InspectFlags {
    std::string format;
    std::string type;
    std::vector<std::string> names;
};

// Docker prints what it found (all of it, as one JSON array, or one template result a line),
// then an error line for each name it did not, and fails.
int run_inspect(const GlobalOptions& global, const InspectFlags& flags, const std::vector<InspectKind>& kinds,
                const std::string& missing_noun) {
    image::Store store(global.root);
    std::optional<GoTemplate> tmpl;
    if (!flags.format.empty()) tmpl.emplace(flags.format);
    TemplateValue found = TemplateValue::array();
    std::vector<std::string> missing;
    for (const auto& name : flags.names) {
        std::optional<TemplateValue> object;
        for (const auto& kind : kinds) {
            if (!flags.type.empty() && flags.type != kind.type) continue;
            if ((object = kind.find(store, name))) break;
        }
        if (!object) {
            missing.push_back(name);
            continue;
        }
        if (tmpl)
            std::cout << tmpl->execute(*object) << "\n";
        else
            found.push_back(std::move(*object));
    }
    if (!tmpl) std::cout << image::inspect_json(found) << "\n";
    std::cout.flush();
    for (const auto& name : missing) std::cerr << "Error: No such " << missing_noun << ": " << name << "\n";
    return missing.empty() ? 0 : 1;
}

void add_inspect_flags(CLI::App* cmd, InspectFlags& flags) {
    cmd->add_option("-f,--format", flags.format, "Format output using a custom template");
    cmd->add_option("names", flags.names, "Names or IDs")->required();
}

void register_inspect(CLI::App& app, CLI::App& image_group, const GlobalOptions& global, int& exit_code) {
    auto flags = std::make_shared<InspectFlags>();
    auto* cmd = app.add_subcommand("inspect", "Return low-level information on kiln objects");
    add_inspect_flags(cmd, *flags);
    cmd->add_option("--type", flags->type, "Only inspect objects of this type (container, image)")
        ->check(CLI::IsMember({"container", "image"}));
    cmd->callback([flags, &global, &exit_code] {
        // docker says "object" here: the name may have meant a container as well.
        exit_code = run_inspect(global, *flags, inspect_kinds(), flags->type.empty() ? "object" : flags->type);
    });

    auto image_flags = std::make_shared<InspectFlags>();
    auto* image_cmd = image_group.add_subcommand("inspect", "Display detailed information on one or more images");
    add_inspect_flags(image_cmd, *image_flags);
    image_cmd->callback([image_flags, &global, &exit_code] {
        exit_code = run_inspect(global, *image_flags, {{"image", inspect_image_named}}, "image");
    });
}

void register_history(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        bool human = true, no_trunc = false, quiet = false;
        std::string format, image;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("history", "Show the history of an image");
    cmd->add_option("-H,--human", flags->human, "Print sizes and dates in human readable format")
        ->expected(0, 1)
        ->default_val(true)
        // docker's spelling `-H=false`: CLI11 hands a short option's value over with the '='.
        ->transform([](std::string value) { return value.starts_with('=') ? value.substr(1) : value; });
    cmd->add_flag("--no-trunc", flags->no_trunc, "Don't truncate output");
    cmd->add_flag("-q,--quiet", flags->quiet, "Only show image IDs");
    cmd->add_option("--format", flags->format, "Format output using a custom template");
    cmd->add_option("image", flags->image, "Image")->required();
    cmd->callback([flags, &global, &exit_code] {
        image::Store store(global.root);
        auto id = find_image(store, flags->image);
        if (!id) {
            std::cerr << "Error: No such image: " << flags->image << "\n";
            exit_code = 1;
            return;
        }
        auto summary = store.images().get(*id);
        std::vector<std::uint64_t> sizes;
        if (summary && summary->top_chain_id)
            for (const auto& layer : store.layers().chain(*summary->top_chain_id)) sizes.push_back(layer.size);
        std::vector<std::string> tags;
        for (const auto& name : summary ? summary->names : std::vector<std::string>{}) {
            auto ref = image::try_parse_reference(name);
            tags.push_back(ref ? ref->familiar() : name);
        }
        auto config = nlohmann::json::parse(store.images().config(*id));
        auto now = static_cast<std::int64_t>(std::time(nullptr));
        std::vector<TemplateValue> rows;
        for (const auto& row : image::history_rows(config, sizes, *id, tags))
            rows.push_back(image::history_fields(row, flags->human, !flags->no_trunc, now));
        Listing listing{"table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
                        {{"ID", "IMAGE"},
                         {"CreatedSince", "CREATED"},
                         {"CreatedAt", "CREATED AT"},
                         {"CreatedBy", "CREATED BY"},
                         {"Size", "SIZE"},
                         {"Comment", "COMMENT"},
                         {"Tags", "TAGS"}}};
        print_listing(std::cout, listing, flags->quiet ? "{{.ID}}" : flags->format, rows);
    });
}

std::optional<runtime::ContainerRow> find_container(image::Store& store, const std::string& name) {
    try {
        return runtime::ContainerRecords(store).resolve(name);
    } catch (const Error&) {
        return std::nullopt;  // no such container (or an ambiguous prefix): try the images
    }
}

std::string kind_letter(char kind) { return std::string(1, kind); }

TemplateValue layer_json(std::size_t index, const image::ImageLayer& l) {
    TemplateValue changes = TemplateValue::array();
    for (const auto& c : l.changes.changes) changes.push_back({{"Kind", kind_letter(c.kind)}, {"Path", c.path}, {"Size", c.size}});
    return {{"Index", index},
            {"DiffID", l.layer.diff_id.str()},
            {"ChainID", l.layer.chain_id.str()},
            {"CreatedBy", l.created_by},
            {"Size", l.layer.size},
            {"WrittenBytes", l.changes.written_bytes},
            {"WastedBytes", l.changes.wasted_bytes},
            {"Changes", changes}};
}

struct ChangeCounts {
    std::size_t added = 0, changed = 0, deleted = 0;
};

ChangeCounts count_changes(const image::LayerChanges& changes) {
    ChangeCounts counts;
    for (const auto& c : changes.changes) (c.kind == 'A' ? counts.added : c.kind == 'C' ? counts.changed : counts.deleted)++;
    return counts;
}

// Resolves the image for diff and tree; prints docker's error and returns nullopt if missing.
std::optional<std::pair<Digest, std::vector<image::ImageLayer>>> load_layers(image::Store& store, const std::string& name) {
    auto id = find_image(store, name);
    if (!id) {
        std::cerr << "Error: No such image: " << name << "\n";
        return std::nullopt;
    }
    return std::make_pair(*id, image::image_layers(store, *id));
}

void register_diff(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        std::string image;
        std::optional<std::size_t> layer;
        bool json = false;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("diff", "Inspect changes to files on a container's filesystem, or each layer of an image (A added, C changed, D deleted)");
    cmd->add_option("--layer", flags->layer, "Only layer N (0 is the bottom layer, as in RootFS.Layers)");
    cmd->add_flag("--json", flags->json, "Print JSON, with sizes and wasted bytes per layer");
    cmd->add_option("name", flags->image, "Container or image")->required();
    cmd->callback([flags, &global, &exit_code] {
        image::Store store(global.root);
        // A container first, as `kiln inspect` looks names up; its changes, as docker diff.
        if (!flags->layer && !flags->json)
            if (auto row = find_container(store, flags->image)) {
                for (const auto& c : runtime::container_changes(store, *row)) std::cout << c.kind << " " << c.path << "\n";
                return;
            }
        auto loaded = load_layers(store, flags->image);
        if (!loaded) {
            exit_code = 1;
            return;
        }
        const auto& [id, layers] = *loaded;
        if (flags->layer && *flags->layer >= layers.size())
            throw Error("--layer " + std::to_string(*flags->layer) + ": the image has " + std::to_string(layers.size()) +
                        " layers (0 to " + std::to_string(layers.size() ? layers.size() - 1 : 0) + ")");
        std::uint64_t wasted = 0;
        for (const auto& l : layers) wasted += l.changes.wasted_bytes;
        if (flags->json) {
            TemplateValue out{{"Id", id.str()}, {"Layers", TemplateValue::array()}, {"WastedBytes", wasted}};
            for (std::size_t i = 0; i < layers.size(); ++i)
                if (!flags->layer || *flags->layer == i) out["Layers"].push_back(layer_json(i, layers[i]));
            std::cout << image::inspect_json(out) << "\n";
            return;
        }
        for (std::size_t i = 0; i < layers.size(); ++i) {
            if (flags->layer && *flags->layer != i) continue;
            const auto& l = layers[i];
            // With --layer the output is exactly `docker diff`'s; the whole stack gets a
            // '#' line before each layer, easy to filter out.
            if (!flags->layer)
                std::cout << "# layer " << i << " " << l.layer.diff_id.str().substr(0, 19) << " "
                          << kiln::human_size(l.layer.size) << ", wasted " << kiln::human_size(l.changes.wasted_bytes)
                          << ": " << image::ellipsis(l.created_by, 60) << "\n";
            for (const auto& c : l.changes.changes) std::cout << c.kind << " " << c.path << "\n";
        }
        if (!flags->layer) std::cout << "# wasted: " << kiln::human_size(wasted) << "\n";
    });
}

void register_tree(CLI::App& image_group, const GlobalOptions& global, int& exit_code) {
    auto name = std::make_shared<std::string>();
    auto* cmd = image_group.add_subcommand("tree", "Show an image's layers: size, changes, wasted bytes, the step that made each");
    cmd->add_option("image", *name, "Image")->required();
    cmd->callback([name, &global, &exit_code] {
        image::Store store(global.root);
        auto loaded = load_layers(store, *name);
        if (!loaded) {
            exit_code = 1;
            return;
        }
        const auto& [id, layers] = *loaded;
        std::uint64_t size = 0, wasted = 0;
        for (const auto& l : layers) {
            size += l.layer.size;
            wasted += l.changes.wasted_bytes;
        }
        std::cout << *name << " " << id.str().substr(0, 19) << " " << kiln::human_size(size) << ", "
                  << layers.size() << " layers, wasted " << kiln::human_size(wasted) << "\n";
        std::string rows;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& l = layers[i];
            auto counts = count_changes(l.changes);
            rows += std::string(i + 1 < layers.size() ? "├─ " : "└─ ") + std::to_string(i) + "\t" +
                    l.layer.diff_id.str().substr(0, 19) + "\t" + kiln::human_size(l.layer.size) + "\t" +
                    "A " + std::to_string(counts.added) + "  C " + std::to_string(counts.changed) + "  D " +
                    std::to_string(counts.deleted) + "\t" + "wasted " + kiln::human_size(l.changes.wasted_bytes) + "\t" +
                    image::ellipsis(l.created_by, 60) + "\n";
        }
        std::cout << tabwrite(rows, 0, 2);
    });
}

}  // namespace

void register_inspect_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto* image_group = subcommand_group(app, "image", "Manage images");
    register_inspect(app, *image_group, global, exit_code);
    register_history(app, global, exit_code);
    register_diff(app, global, exit_code);
    register_tree(*image_group, global, exit_code);
}

}  // namespace kiln::cli
