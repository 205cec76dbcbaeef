#include <iostream>

#include "cli/commands.hpp"
#include "image/layer_diff.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "runtime/container_status.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/port_bindings.hpp"
#include "runtime/monitor/json_log.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/go_template.hpp"
#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

constexpr const char* default_ps_format =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

// Go's strconv.Quote for the ASCII a command line holds.
std::string go_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// The docker CLI's Ellipsis: at most `width` characters, the last one "…" when cut.
std::string ellipsis(const std::string& s, std::size_t width) {
    if (s.size() <= width) return s;
    return s.substr(0, width - 1) + "…";
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
    return out;
}

// The docker CLI's SIZE: the writable layer's bytes, then with the image's ("virtual").
std::string size_text(image::Store& store, const runtime::ContainerRow& row) {
    std::uint64_t upper = 0, image_size = 0;
    try {
        for (const auto& entry : image::scan_layer(store.layers().existing(runtime::container_snapshot_key(row.id)).upper_dir))
            upper += entry.size;
    } catch (const Error&) {
        // Removed meanwhile: nothing written.
    }
    try {
        if (auto summary = store.images().get(Digest::parse(row.image_id))) image_size = summary->size;
    } catch (const Error&) {
        // The image is gone (removed with -f): only the writable layer counts.
    }
    const std::uint64_t virtual_size = upper + image_size;
    return human_size(upper) + (image_size > 0 ? " (virtual " + human_size(virtual_size) + ")" : "");
}

// The fields the docker CLI's ps formatter offers.
TemplateValue ps_fields(const runtime::ContainerRow& row, const runtime::ContainerConfig& config, bool trunc,
                        std::int64_t now) {
    std::string command = go_quote(join(config.args, " "));
    std::vector<std::string> labels;
    for (const auto& [k, v] : config.labels) labels.push_back(k + "=" + v);
    TemplateValue v;
    v["ID"] = trunc ? row.id.substr(0, 12) : row.id;
    v["Image"] = row.image;
    v["Command"] = trunc ? ellipsis(command, 20) : command;
    v["CreatedAt"] = runtime::rfc3339_nano(row.created_ns);
    v["RunningFor"] = runtime::human_duration(now - row.created_ns) + " ago";
    v["Status"] = runtime::status_text(row, now);
    v["State"] = runtime::docker_state(row);
    v["Ports"] = row.state == "running" ? runtime::ps_ports_text(runtime::published_ports(row.id)) : "";
    v["Names"] = row.name;
    v["Labels"] = join(labels, ",");
    v["Mounts"] = "";
    v["Networks"] = config.network.mode.starts_with("container:") ? "" : config.network.mode;
    v["Size"] = "";
    return v;
}

TemplateValue ps_headers() {
    TemplateValue v;
    for (auto [field, header] : std::initializer_list<std::pair<const char*, const char*>>{
             {"ID", "CONTAINER ID"}, {"Image", "IMAGE"}, {"Command", "COMMAND"}, {"CreatedAt", "CREATED AT"},
             {"RunningFor", "CREATED"}, {"Status", "STATUS"}, {"State", "STATE"}, {"Ports", "PORTS"},
             {"Names", "NAMES"}, {"Labels", "LABELS"}, {"Mounts", "MOUNTS"}, {"Networks", "NETWORKS"},
             {"Size", "SIZE"}})
        v[field] = header;
    return v;
}

}  // namespace

void register_ps_commands(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        bool all = false, quiet = false, latest = false, no_trunc = false, size = false;
        int last = -1;
        std::vector<std::string> filters;
        std::string format;
    };
    auto flags = std::make_shared<Flags>();
    auto add = [&](CLI::App* cmd) {
        cmd->add_flag("-a,--all", flags->all, "Show all containers (default shows just running)");
        cmd->add_flag("-q,--quiet", flags->quiet, "Only display container IDs");
        cmd->add_flag("-l,--latest", flags->latest, "Show the latest created container");
        cmd->add_option("-n,--last", flags->last, "Show n last created containers");
        cmd->add_flag("--no-trunc", flags->no_trunc, "Don't truncate output");
        cmd->add_flag("-s,--size", flags->size, "Display total file sizes");
        repeatable(cmd->add_option("-f,--filter", flags->filters, "Filter output (status=, name=, id=, label=, ancestor=, exited=, network=)"));
        cmd->add_option("--format", flags->format, "Format output using a Go template ('table' for a table)");
        cmd->callback([flags, &global] {
            std::vector<runtime::PsFilter> filters;
            for (const auto& f : flags->filters) filters.push_back(runtime::parse_ps_filter(f));
            std::string format = flags->format.empty() ? default_ps_format : flags->format;
            if (format == "table") format = default_ps_format;
            // As the docker CLI: -s adds SIZE to the default table; a format naming .Size
            // gets sizes without it.
            if (flags->size && format == default_ps_format) format += "\t{{.Size}}";
            const bool sizes = format.find(".Size") != std::string::npos;
            const bool table = format.starts_with("table");
            if (table) format = format.substr(5);
            while (!format.empty() && (format.front() == ' ' || format.front() == '\t')) format.erase(0, 1);
            if (flags->quiet && flags->format.empty()) format = "{{.ID}}";
            GoTemplate tmpl(format);

            image::Store store(global.root);
            runtime::ContainerRecords records(store);
            auto rows = records.list();
            const bool all = flags->all || flags->latest || flags->last >= 0;
            std::size_t limit = flags->latest ? 1 : flags->last >= 0 ? static_cast<std::size_t>(flags->last) : rows.size();
            const auto now = runtime::unix_now_ns();
            std::string out;
            if (table && !(flags->quiet && flags->format.empty())) out += tmpl.execute(ps_headers()) + "\n";
            std::size_t shown = 0;
            for (const auto& row : rows) {
                if (shown >= limit) break;
                if (!all && row.state != "running") continue;
                auto config = records.config(row);
                if (!runtime::ps_filters_match(filters, row, config)) continue;
                auto fields = ps_fields(row, config, !flags->no_trunc, now);
                if (sizes) fields["Size"] = size_text(store, row);
                out += tmpl.execute(fields) + "\n";
                ++shown;
            }
            std::cout << (table ? tabwrite(out) : out) << std::flush;
        });
    };
    add(app.add_subcommand("ps", "List containers"));
}

}  // namespace kiln::cli
