// `kiln stats [-a] [--no-stream] [--no-trunc] [--format] [CONTAINER...]`: docker stats'
// columns from two samples a second apart (runtime/container_stats.hpp). Streaming
// redraws the table each second on a terminal and prints one block after another
// otherwise, until interrupted.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/listing.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "runtime/container_stats.hpp"
#include "util/error.hpp"
#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

constexpr auto sample_interval = std::chrono::seconds(1);

struct Target {
    std::string shown_as;  // the .Container field: the name given, else the id
    runtime::ContainerRow row;
};

std::string percent(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.2f%%", value);
    return buffer;
}

std::string decimal_pair(std::uint64_t a, std::uint64_t b) { return human_size(a) + " / " + human_size(b); }

// One row as the docker CLI's stats formatter sees it, keys in its JSON order.
TemplateValue stats_fields(const Target& t, const runtime::ContainerSample& before, const runtime::ContainerSample& now,
                           bool trunc) {
    TemplateValue v;
    v["BlockIO"] = decimal_pair(now.block_read, now.block_write);
    v["CPUPerc"] = percent(runtime::cpu_percent(before, now));
    v["Container"] = t.shown_as;
    v["ID"] = trunc ? t.row.id.substr(0, 12) : t.row.id;
    v["MemPerc"] = percent(runtime::memory_percent(now));
    v["MemUsage"] = bytes_size(now.memory_used) + " / " + bytes_size(now.memory_limit);
    v["Name"] = t.row.name;
    v["NetIO"] = decimal_pair(now.net_rx, now.net_tx);
    v["PIDs"] = std::to_string(now.pids);
    return v;
}

const Listing& stats_listing() {
    static const Listing listing{
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
        {{"BlockIO", "BLOCK I/O"},
         {"CPUPerc", "CPU %"},
         {"Container", "CONTAINER"},
         {"ID", "CONTAINER ID"},
         {"MemPerc", "MEM %"},
         {"MemUsage", "MEM USAGE / LIMIT"},
         {"Name", "NAME"},
         {"NetIO", "NET I/O"},
         {"PIDs", "PIDS"}}};
    return listing;
}

runtime::ContainerSample sample(const runtime::ContainerRow& row) {
    if (row.state != "running") return {};
    return runtime::sample_container(row.id, static_cast<pid_t>(row.pid));
}

struct Flags {
    std::vector<std::string> names;
    bool all = false, no_stream = false, no_trunc = false;
    std::string format;
};

// The containers to show now: those named (resolved again, so a restart shows), or every
// running one (every one with -a).
std::vector<Target> targets(runtime::ContainerRecords& records, const Flags& f) {
    std::vector<Target> out;
    if (f.names.empty()) {
        for (auto& row : records.list())
            if (f.all || row.state == "running") out.push_back({row.id, std::move(row)});
        return out;
    }
    for (const auto& name : f.names) {
        try {
            out.push_back({name, records.resolve(name)});
        } catch (const Error&) {
            // Removed while streaming: its row goes, as in docker.
        }
    }
    return out;
}

}  // namespace

void register_stats_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto f = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("stats", "Display a live stream of container(s) resource usage statistics");
    cmd->add_option("CONTAINER", f->names, "Containers (default: all running)");
    cmd->add_flag("-a,--all", f->all, "Show all containers (default shows just running)");
    cmd->add_flag("--no-stream", f->no_stream, "Disable streaming stats and only pull the first result");
    cmd->add_flag("--no-trunc", f->no_trunc, "Do not truncate output");
    cmd->add_option("--format", f->format, "Format output using a Go template ('table', 'json' or a template)");
    cmd->callback([f, &global, &exit_code] {
        image::Store store(global.root);
        runtime::ContainerRecords records(store);
        // As the docker CLI: any container named that does not exist fails the command
        // before anything is shown.
        std::vector<std::string> errors;
        for (const auto& name : f->names) {
            try {
                records.resolve(name);
            } catch (const Error& e) {
                errors.push_back(e.what());
            }
        }
        if (!errors.empty()) {
            for (const auto& e : errors) std::cerr << "kiln: " << e << std::endl;
            exit_code = 1;
            return;
        }
        const bool terminal = ::isatty(STDOUT_FILENO) == 1;
        std::map<std::string, runtime::ContainerSample> previous;  // by id
        auto current = targets(records, *f);
        for (const auto& t : current) previous[t.row.id] = sample(t.row);
        for (;;) {
            std::this_thread::sleep_for(sample_interval);
            std::vector<TemplateValue> rows;
            std::map<std::string, runtime::ContainerSample> latest;
            for (const auto& t : current) {
                auto now = sample(records.refresh(t.row));
                auto before = previous.count(t.row.id) ? previous[t.row.id] : now;
                rows.push_back(stats_fields(t, before, now, !f->no_trunc));
                latest[t.row.id] = now;
            }
            std::ostringstream block;
            print_listing(block, stats_listing(), f->format, rows);
            // Docker's redraw: clear the screen, cursor home, the table.
            if (terminal && !f->no_stream) std::cout << "\033[2J\033[H";
            std::cout << block.str() << std::flush;
            if (f->no_stream) return;
            previous = std::move(latest);
            current = targets(records, *f);
        }
    });
}

}  // namespace kiln::cli
