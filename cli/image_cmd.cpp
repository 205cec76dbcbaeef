#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "builder/config_edit.hpp"
#include "builder/import.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/listing.hpp"
#include "image/image_filter.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

// A name as the user typed it ("busybox", "hello:1") or an image ID, as the store keys it.
std::string store_key(image::Store& store, const std::string& name) {
    if (store.images().resolve(name)) return name;
    try {
        return image::parse_reference(name).str();
    } catch (const Error&) {
        return name;  // neither a stored name nor a valid reference: let the store say so
    }
}

std::int64_t created_of(image::Store& store, const std::string& name) {
    auto id = store.images().resolve(store_key(store, name));
    auto summary = id ? store.images().get(*id) : std::nullopt;
    if (!summary) throw Error("No such image: " + name);
    return summary->created;
}

// One `docker images` row as its --format sees it. name: a full name, "repo:tag" or (an
// image pulled by digest and never tagged in that repository) "repo@sha256:…".
TemplateValue image_row(const image::ImageSummary& img, const std::optional<std::string>& name,
                        const std::vector<std::pair<std::string, Digest>>& repo_digests, bool truncate) {
    std::string repository = "<none>", tag = "<none>", digest = "<none>";
    if (name) {
        auto ref = image::parse_reference(*name);
        repository = ref.familiar_repository();
        if (!ref.tag.empty()) tag = ref.tag;
        if (ref.digest) digest = ref.digest->str();
        // docker shows the repository's digest beside each of its tags.
        for (const auto& [repo, d] : repo_digests)
            if (!ref.digest && repo == ref.repository()) digest = d.str();
    }
    std::string size = human_size(img.size);
    return {{"ID", truncate ? img.id.short_hex() : img.id.str()},
            {"Repository", repository},
            {"Tag", tag},
            {"Digest", digest},
            {"CreatedSince", human_age(img.created)},
            {"CreatedAt", go_time_string(img.created)},
            {"Size", size},
            {"VirtualSize", size},
            {"SharedSize", "N/A"},
            {"UniqueSize", "N/A"},
            {"Containers", "N/A"}};
}

// `images`, and `image ls` for those who type docker's newer spelling.
void register_images(CLI::App& parent, const std::string& name, const GlobalOptions& global) {
    struct Flags {
        bool quiet = false, all = false, digests = false, no_trunc = false;
        std::vector<std::string> filters;
        std::string format, repository;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = parent.add_subcommand(name, "List images");
    cmd->add_flag("-q,--quiet", flags->quiet, "Only show image IDs");
    // kiln stores no intermediate images, so there is nothing more for -a to show.
    cmd->add_flag("-a,--all", flags->all, "Show all images (default hides intermediate images)");
    cmd->add_flag("--digests", flags->digests, "Show digests");
    cmd->add_flag("--no-trunc", flags->no_trunc, "Don't truncate output");
    repeatable(cmd->add_option("-f,--filter", flags->filters, "Filter output based on conditions provided"));
    cmd->add_option("--format", flags->format, "Format output using a custom template");
    cmd->add_option("repository", flags->repository, "REPOSITORY[:TAG] to list");
    cmd->callback([flags, &global] {
        image::Store store(global.root);
        auto filters = image::parse_image_filters(flags->filters, {"dangling", "reference", "label", "before", "since"},
                                                  image::unix_now());
        if (!flags->repository.empty()) filters.references.push_back(flags->repository);
        for (const auto& name : filters.before) {
            auto t = created_of(store, name);
            filters.created_before = std::min(filters.created_before.value_or(t), t);
        }
        for (const auto& name : filters.since) {
            auto t = created_of(store, name);
            filters.created_after = std::max(filters.created_after.value_or(t), t);
        }
        auto images = store.images().list();
        std::vector<TemplateValue> rows;
        for (const auto& img : images) {
            auto names = image::select_names(filters, image::image_facts(store, img, filters.wants_labels()));
            if (!names) continue;
            auto repo_digests = store.db().repo_digests_for(img.id);
            // Repositories the image has a digest but no tag in list as "<none>" tags.
            if (filters.references.empty())
                for (const auto& [repo, d] : repo_digests) {
                    bool tagged = false;
                    for (const auto& n : img.names) tagged = tagged || image::parse_reference(n).repository() == repo;
                    if (!tagged) names->push_back(repo + "@" + d.str());
                }
            if (names->empty()) rows.push_back(image_row(img, std::nullopt, repo_digests, !flags->no_trunc));
            for (const auto& name : *names) rows.push_back(image_row(img, name, repo_digests, !flags->no_trunc));
        }
        Listing listing{flags->digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                                       : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
                        {{"ID", "IMAGE ID"},
                         {"Repository", "REPOSITORY"},
                         {"Tag", "TAG"},
                         {"Digest", "DIGEST"},
                         {"CreatedSince", "CREATED"},
                         {"CreatedAt", "CREATED AT"},
                         {"Size", "SIZE"},
                         {"VirtualSize", "VIRTUAL SIZE"},
                         {"SharedSize", "SHARED SIZE"},
                         {"UniqueSize", "UNIQUE SIZE"},
                         {"Containers", "CONTAINERS"}}};
        print_listing(std::cout, listing, flags->quiet ? "{{.ID}}" : flags->format, rows);
    });
}

void register_rmi(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    struct Flags {
        bool force = false;
        std::vector<std::string> images;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("rmi", "Remove one or more images");
    cmd->add_flag("-f,--force", flags->force, "Remove the image even if it has several names");
    cmd->add_option("image", flags->images, "Images")->required();
    cmd->callback([flags, &global, &exit_code] {
        image::Store store(global.root);
        for (const auto& name : flags->images) {
            try {
                for (const auto& line : store.images().remove(store_key(store, name), flags->force)) std::cout << line << "\n";
            } catch (const Error& e) {
                // docker rmi goes on with the other images and fails at the end.
                std::cerr << "Error: " << e.what() << "\n";
                exit_code = 1;
            }
        }
    });
}

void register_tag(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        std::string source, target;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
    cmd->add_option("source", flags->source, "Source image")->required();
    cmd->add_option("target", flags->target, "New name")->required();
    cmd->callback([flags, &global] {
        image::Store store(global.root);
        auto id = store.images().resolve(store_key(store, flags->source));
        if (!id) throw Error("No such image: " + flags->source);
        store.images().tag(image::parse_reference(flags->target).str(), *id);
    });
}

void register_import(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        std::string file, name, message;
        std::vector<std::string> changes;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("import", "Import a root filesystem tarball as an image");
    cmd->add_option("-m,--message", flags->message, "Commit message for the imported image");
    repeatable(cmd->add_option("-c,--change", flags->changes,
                               std::string("Apply a Dockerfile instruction to the image (") +
                                   builder::change_instructions + ")"));
    cmd->add_option("file", flags->file, "Tarball (plain, gzip, xz or zstd), or - for stdin")->required();
    cmd->add_option("name", flags->name, "NAME[:TAG] for the new image");
    cmd->callback([flags, &global] {
        UniqueFd owned;
        int fd = 0;
        if (flags->file != "-") {
            owned.reset(::open(flags->file.c_str(), O_RDONLY | O_CLOEXEC));
            if (!owned) throw_errno("open " + flags->file);
            fd = owned.get();
        }
        image::Store store(global.root);
        auto id = builder::import_rootfs(store, fd, flags->file, flags->name, flags->message, flags->changes);
        std::cout << id.str() << "\n";
    });
}

}  // namespace

void register_image_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    register_images(app, "images", global);
    register_images(*subcommand_group(app, "image", "Manage images"), "ls", global);
    register_rmi(app, global, exit_code);
    register_tag(app, global);
    register_import(app, global);
}

}  // namespace kiln::cli
