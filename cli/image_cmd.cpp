#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "builder/config_edit.hpp"
#include "builder/import.hpp"
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

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

void register_images(CLI::App& app, const GlobalOptions& global) {
    auto quiet = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("images", "List images");
    cmd->add_flag("-q,--quiet", *quiet, "Only show image IDs");
    cmd->callback([quiet, &global] {
        image::Store store(global.root);
        auto images = store.images().list();
        if (*quiet) {
            for (const auto& img : images) std::cout << img.id.short_hex() << "\n";
            return;
        }
        Table table({"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
        for (const auto& img : images) {
            std::string created = human_age(img.created);
            std::string size = human_size(img.size);
            if (img.names.empty()) table.add({"<none>", "<none>", img.id.short_hex(), created, size});
            for (const auto& name : img.names) {
                auto ref = image::parse_reference(name);
                table.add({ref.familiar_repository(), ref.tag, img.id.short_hex(), created, size});
            }
        }
        table.print(std::cout);
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
    register_images(app, global);
    register_rmi(app, global, exit_code);
    register_tag(app, global);
    register_import(app, global);
}

}  // namespace kiln::cli
