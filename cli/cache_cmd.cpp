// kiln cache ls/du/prune, system df, image prune: what the store holds and taking it back.
#include <ctime>
#include <iostream>

#include "builder/cache_report.hpp"
#include "builder/disk_usage.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/listing.hpp"
#include "image/image_filter.hpp"
#include "image/image_prune.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

using builder::CacheRecord;

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string bool_text(bool value) { return value ? "true" : "false"; }

TemplateValue cache_row(const CacheRecord& r) {
    return {{"ID", r.short_id()},
            {"Key", r.key},
            {"Step", r.step.empty() ? "<unknown>" : r.step},
            {"Size", kiln::human_size(r.size)},
            {"CreatedSince", human_age(r.created)},
            {"CreatedAt", go_time_string(r.created)},
            {"LastUsed", human_age(r.last_used)},
            {"LastUsedAt", go_time_string(r.last_used)},
            {"Hits", r.hits},
            {"InUse", r.in_use},
            {"Reclaimable", !r.in_use},
            {"Layer", r.layer ? r.layer->str() : ""}};
}

void register_cache_ls(CLI::App& group, const GlobalOptions& global) {
    auto format = std::make_shared<std::string>();
    auto* cmd = group.add_subcommand("ls", "List build cache entries");
    cmd->alias("list");
    cmd->add_option("--format", *format, "Format output using a custom template");
    cmd->callback([format, &global] {
        image::Store store(global.root);
        std::vector<TemplateValue> rows;
        for (const auto& r : builder::cache_records(store)) rows.push_back(cache_row(r));
        Listing listing{"table {{.ID}}\t{{.Step}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsed}}\t{{.Hits}}",
                        {{"ID", "CACHE KEY"},
                         {"Key", "CACHE KEY"},
                         {"Step", "STEP"},
                         {"Size", "SIZE"},
                         {"CreatedSince", "CREATED"},
                         {"CreatedAt", "CREATED AT"},
                         {"LastUsed", "LAST USED"},
                         {"LastUsedAt", "LAST USED AT"},
                         {"Hits", "HITS"},
                         {"InUse", "IN USE"},
                         {"Reclaimable", "RECLAIMABLE"},
                         {"Layer", "LAYER"}}};
        print_listing(std::cout, listing, *format, rows);
    });
}

// BuildKit names records with 25 characters; kiln's are the step keys' first 25.
std::string record_id(const CacheRecord& r) {
    std::string hex = r.key.starts_with("sha256:") ? r.key.substr(7) : r.key;
    return hex.substr(0, 25);
}

std::string last_accessed(const CacheRecord& r) { return r.last_used ? human_age(r.last_used) : ""; }

// buildx's table of records (du, prune), padded with tabs as buildx pads it.
std::string record_table(const std::vector<CacheRecord>& records) {
    std::string text = "ID\tRECLAIMABLE\tSIZE\tLAST ACCESSED\n";
    for (const auto& r : records)
        text += record_id(r) + "\t" + bool_text(!r.in_use) + "\t" + kiln::human_size(r.size, 4) + "\t" + last_accessed(r) + "\n";
    return tabwrite(text, 1, 1, '\t');
}

std::string record_details(const CacheRecord& r) {
    std::string text = "ID:\t" + record_id(r) + "\n";
    text += "Created at:\t" + go_time_string(r.created) + "\n";
    text += "Mutable:\t" + bool_text(r.cache_mount) + "\n";
    text += "Reclaimable:\t" + bool_text(!r.in_use) + "\n";
    text += "Shared:\t" + bool_text(r.used_by_image) + "\n";
    text += "Size:\t" + kiln::human_size(r.size, 4) + "\n";
    text += "Description:\t" + r.step + "\n";
    text += "Usage count:\t" + std::to_string(r.hits) + "\n";
    text += "Last used:\t" + last_accessed(r) + "\n";
    text += "Type:\t" + std::string(r.cache_mount ? "exec.cachemount" : r.layer ? "regular" : "metadata") + "\n";
    return tabwrite(text, 1, 1, '\t') + "\n";
}

void register_cache_du(CLI::App& group, const GlobalOptions& global) {
    auto verbose = std::make_shared<bool>(false);
    auto* cmd = group.add_subcommand("du", "Disk usage of the build cache");
    cmd->add_flag("--verbose", *verbose, "Provide a more verbose output");
    cmd->callback([verbose, &global] {
        image::Store store(global.root);
        auto records = builder::cache_records(store);
        std::stable_sort(records.begin(), records.end(),
                         [](const CacheRecord& a, const CacheRecord& b) { return a.size > b.size; });
        std::uint64_t total = 0, reclaimable = 0;
        for (const auto& r : records) {
            total += r.size;
            if (!r.in_use) reclaimable += r.size;
        }
        if (*verbose)
            for (const auto& r : records) std::cout << record_details(r);
        else
            std::cout << record_table(records);
        std::cout << tabwrite("Reclaimable:\t" + kiln::human_size(reclaimable, 4) + "\nTotal:\t" + kiln::human_size(total, 4) + "\n",
                              1, 1, '\t');
    });
}

void register_cache_prune(CLI::App& group, const GlobalOptions& global) {
    struct Flags {
        bool all = false, force = false, verbose = false;
        std::vector<std::string> filters;
        std::string keep_storage;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = group.add_subcommand("prune", "Remove build cache");
    cmd->add_flag("-a,--all", flags->all, "Also remove cache that only untagged images still use");
    cmd->add_flag("-f,--force", flags->force, "Do not prompt for confirmation");
    cmd->add_flag("--verbose", flags->verbose, "Provide a more verbose output");
    repeatable(cmd->add_option("--filter", flags->filters, "Provide filter values (e.g., \"until=24h\")"));
    cmd->add_option("--keep-storage", flags->keep_storage, "Amount of disk space to keep for cache (e.g. 5GB)");
    cmd->callback([flags, &global] {
        builder::CachePrunePolicy policy;
        policy.all = flags->all;
        for (const auto& f : flags->filters) {
            auto eq = f.find('=');
            std::string name = f.substr(0, eq);
            if (eq == std::string::npos || (name != "until" && name != "unused-for"))
                throw Error("invalid filter '" + f + "' (kiln knows until=DURATION)");
            auto t = image::parse_until(f.substr(eq + 1), now());
            if (!t) throw Error("invalid filter '" + f + "': not a duration or timestamp");
            policy.unused_since = t;
        }
        if (!flags->keep_storage.empty()) {
            policy.keep_storage = parse_human_size(flags->keep_storage);
            if (!policy.keep_storage) throw Error("invalid --keep-storage " + flags->keep_storage);
        }
        if (!flags->force && !confirm(std::cout, flags->all ? "WARNING! This will remove all build cache."
                                                             : "WARNING! This will remove all dangling build cache."))
            return;
        image::Store store(global.root);
        auto result = builder::prune_cache(store, policy);
        if (!result.removed.empty()) {
            if (flags->verbose)
                for (const auto& r : result.removed) std::cout << record_details(r);
            else
                std::cout << record_table(result.removed);
        }
        std::cout << tabwrite("Total:\t" + kiln::human_size(result.reclaimed, 4) + "\n", 1, 1, '\t');
    });
}

std::string with_share(std::uint64_t reclaimable, std::uint64_t total) {
    if (total == 0) return kiln::human_size(reclaimable, 4);
    return kiln::human_size(reclaimable, 4) + " (" + std::to_string(reclaimable * 100 / total) + "%)";
}

void print_df_verbose(const builder::DiskUsage& usage, std::uint64_t cache_size) {
    std::cout << "Images space usage:\n\n";
    std::string text = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n";
    for (const auto& img : usage.images) {
        std::vector<std::pair<std::string, std::string>> names;
        for (const auto& n : img.names) {
            auto ref = image::parse_reference(n);
            names.emplace_back(ref.familiar_repository(), ref.tag);
        }
        if (names.empty()) names.emplace_back("<none>", "<none>");
        for (const auto& [repo, tag] : names)
            text += repo + "\t" + tag + "\t" + img.id.short_hex() + "\t" + human_age(img.created) + "\t" +
                    kiln::human_size(img.size) + "\t" + kiln::human_size(img.shared) + "\t" + kiln::human_size(img.unique) + "\t0\n";
    }
    std::cout << tabwrite(text, 10, 3);
    std::cout << "\nContainers space usage:\n\n"
              << tabwrite("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n", 10, 3);
    std::cout << "\nLocal Volumes space usage:\n\n" << tabwrite("VOLUME NAME\tLINKS\tSIZE\n", 10, 3);
    std::cout << "\nBuild cache usage: " << kiln::human_size(cache_size, 4) << "\n\n";
    text = "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n";
    for (const auto& r : usage.cache)
        text += r.short_id() + "\t" + (r.layer ? "regular" : "metadata") + "\t" + kiln::human_size(r.size, 4) + "\t" +
                human_age(r.created) + "\t" + human_age(r.last_used) + "\t" + std::to_string(r.hits) + "\t" +
                bool_text(r.used_by_image) + "\n";
    std::cout << tabwrite(text, 10, 3);
}

void register_system_df(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        bool verbose = false;
        std::string format;
    };
    auto flags = std::make_shared<Flags>();
    auto* group = subcommand_group(app, "system", "Manage kiln");
    auto* cmd = group->add_subcommand("df", "Show kiln disk usage");
    cmd->add_flag("-v,--verbose", flags->verbose, "Show detailed information on space usage");
    cmd->add_option("--format", flags->format, "Format output using a custom template");
    cmd->callback([flags, &global] {
        image::Store store(global.root);
        auto usage = builder::disk_usage(store);
        std::uint64_t cache_size = 0, cache_reclaimable = 0, cache_active = 0;
        for (const auto& r : usage.cache) {
            cache_size += r.size;
            if (r.in_use)
                ++cache_active;
            else
                cache_reclaimable += r.size;
        }
        if (flags->verbose && flags->format.empty()) return print_df_verbose(usage, cache_size);
        // No container exists yet to make an image active: all of their space could go.
        auto row = [](const std::string& type, std::size_t total, std::size_t active, const std::string& size,
                      const std::string& reclaimable) {
            return TemplateValue{{"Type", type},
                                 {"TotalCount", total},
                                 {"Active", active},
                                 {"Size", size},
                                 {"Reclaimable", reclaimable}};
        };
        std::vector<TemplateValue> rows{
            row("Images", usage.images.size(), 0, kiln::human_size(usage.images_size, 4),
                with_share(usage.images_size, usage.images_size)),
            row("Containers", 0, 0, "0B", "0B"),
            row("Local Volumes", 0, 0, "0B", "0B"),
            row("Build Cache", usage.cache.size(), cache_active, kiln::human_size(cache_size, 4), kiln::human_size(cache_reclaimable, 4))};
        Listing listing{"table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                        {{"Type", "TYPE"}, {"TotalCount", "TOTAL"}, {"Active", "ACTIVE"}, {"Size", "SIZE"},
                         {"Reclaimable", "RECLAIMABLE"}}};
        print_listing(std::cout, listing, flags->format, rows);
    });
}

void register_image_prune(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        bool all = false, force = false;
        std::vector<std::string> filters;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = subcommand_group(app, "image", "Manage images")->add_subcommand("prune", "Remove unused images");
    cmd->add_flag("-a,--all", flags->all, "Remove all unused images, not just dangling ones");
    cmd->add_flag("-f,--force", flags->force, "Do not prompt for confirmation");
    repeatable(cmd->add_option("--filter", flags->filters, "Provide filter values (e.g. \"until=<timestamp>\")"));
    cmd->callback([flags, &global] {
        auto filters = image::parse_image_filters(flags->filters, {"until", "label"}, now());
        std::string warning = flags->all ? "WARNING! This will remove all images without at least one container associated to them."
                                         : "WARNING! This will remove all dangling images.";
        if (!flags->force && !confirm(std::cout, warning)) return;
        image::Store store(global.root);
        // "Unused" (-a): no container, running or stopped, was created from it.
        std::vector<image::ImageFacts> facts;
        for (const auto& img : store.images().list()) facts.push_back(image::image_facts(store, img, filters.wants_labels()));
        auto chosen = image::select_prune(facts, flags->all, filters);
        auto report = image::prune_images(store, chosen);
        if (!report.lines.empty()) {
            std::cout << "Deleted Images:\n";
            for (const auto& line : report.lines) std::cout << line << "\n";
            std::cout << "\n";
        }
        std::cout << "Total reclaimed space: " << kiln::human_size(report.reclaimed, 4) << "\n";
    });
}

}  // namespace

void register_cache_commands(CLI::App& app, const GlobalOptions& global, int&) {
    // `builder` too: since Docker 23 `docker builder` is buildx, whose du and prune these are.
    for (const char* name : {"cache", "builder"}) {
        auto* group = subcommand_group(app, name, "Manage the build cache");
        register_cache_ls(*group, global);
        register_cache_du(*group, global);
        register_cache_prune(*group, global);
    }
    register_system_df(app, global);
    register_image_prune(app, global);
}

}  // namespace kiln::cli
