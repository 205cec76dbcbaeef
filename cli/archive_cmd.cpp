// Images as files: save, load, export.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "image/archive_reader.hpp"
#include "image/archive_writer.hpp"
#include "image/flatten.hpp"
#include "image/reference.hpp"
#include "image/staging.hpp"
#include "image/store.hpp"
#include "runtime/container_records.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::cli {

namespace {

// SOURCE_DATE_EPOCH when set (reproducible builds), else the epoch: archives never carry
// the time they were written.
std::int64_t archive_mtime() {
    const char* env = std::getenv("SOURCE_DATE_EPOCH");
    if (!env || !*env) return 0;
    char* end = nullptr;
    long long v = std::strtoll(env, &end, 10);
    if (*end != '\0' || v < 0) throw Error("SOURCE_DATE_EPOCH must be a non-negative integer, not '" + std::string(env) + "'");
    return v;
}

image::ArchiveFormat parse_format(const std::string& s) {
    if (s == "docker-archive" || s == "docker") return image::ArchiveFormat::DockerArchive;
    if (s == "oci-archive") return image::ArchiveFormat::OciArchive;
    if (s == "oci-dir" || s == "oci") return image::ArchiveFormat::OciDir;
    throw Error("unknown archive format '" + s + "' (use docker-archive, oci-archive or oci-dir)");
}

std::optional<image::Compression> parse_compression(const std::string& s) {
    if (s.empty()) return std::nullopt;
    if (s == "gzip") return image::Compression::Gzip;
    if (s == "zstd") return image::Compression::Zstd;
    if (s == "none") return image::Compression::None;
    throw Error("unknown compression '" + s + "' (use gzip, zstd or none)");
}

std::string parent_dir(const std::string& path) {
    std::string clean = clean_path(path);
    auto slash = clean.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : clean.substr(0, slash);
}

// A tar archive into FILE: staged beside it and renamed into place when complete, so a
// failed save never leaves a truncated archive where the old one was.
void save_to_file(image::Store& store, const std::vector<std::string>& images,
                  const image::SaveOptions& options, const std::string& file) {
    image::StagingFile staged(parent_dir(file), ".kiln-save-");
    auto out = image::tar_output(staged.fd(), options.mtime);
    image::save_images(store, images, options, *out);
    staged.commit(file, 0644);
}

void register_save(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        std::string output, format = "docker-archive", compression;
        std::vector<std::string> images;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
    cmd->add_option("-o,--output", flags->output, "Write to a file (a directory for oci-dir) instead of STDOUT");
    cmd->add_option("--format", flags->format, "docker-archive (default), oci-archive or oci-dir");
    cmd->add_option("--compression", flags->compression,
                    "Layer compression: gzip, zstd or none (default: none for docker-archive, as Docker, gzip for OCI)");
    cmd->add_option("image", flags->images, "Images")->required();
    cmd->callback([flags, &global] {
        image::SaveOptions options;
        options.format = parse_format(flags->format);
        options.compression = parse_compression(flags->compression);
        options.mtime = archive_mtime();
        if (options.format == image::ArchiveFormat::OciDir) {
            if (flags->output.empty()) throw Error("--format oci-dir needs -o DIR");
            image::Store store(global.root);
            auto out = image::directory_output(flags->output);
            image::save_images(store, flags->images, options, *out);
            return;
        }
        if (flags->output.empty() && ::isatty(STDOUT_FILENO))
            throw Error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        image::Store store(global.root);
        if (!flags->output.empty()) {
            save_to_file(store, flags->images, options, flags->output);
            return;
        }
        auto out = image::tar_output(STDOUT_FILENO, options.mtime);
        image::save_images(store, flags->images, options, *out);
    });
}

void register_load(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        std::string input = "-";
        bool quiet = false;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("load", "Load images from a tar archive or an OCI layout (STDIN by default)");
    cmd->add_option("-i,--input", flags->input, "Read from a file or an OCI layout directory instead of STDIN");
    cmd->add_flag("-q,--quiet", flags->quiet, "Suppress the load output");
    cmd->callback([flags, &global] {
        if (flags->input == "-" && ::isatty(STDIN_FILENO))
            throw Error("requested load from stdin, but stdin is empty");
        image::Store store(global.root);
        auto source = image::open_archive(store, flags->input);
        auto report = image::load_images(store, *source);
        if (flags->quiet) return;
        for (const auto& note : report.notes) std::cerr << note << "\n";
        for (const auto& img : report.images) {
            if (img.names.empty()) std::cout << "Loaded image ID: " << img.id.str() << "\n";
            for (const auto& name : img.names)
                std::cout << "Loaded image: " << image::parse_reference(name).familiar() << "\n";
        }
    });
}

using RootfsWriter = std::function<void(const image::ByteSink&)>;

// What `kiln export NAME` tars: the container NAME names (as Docker's export, running or
// not), else the image, so `export IMAGE` keeps working as kiln has always offered it.
RootfsWriter export_source(image::Store& store, const std::string& name) {
    runtime::ContainerRecords records(store);
    try {
        std::string key = runtime::container_snapshot_key(records.resolve(name).id);
        return [&store, key](const image::ByteSink& sink) { image::write_snapshot_rootfs_tar(store, key, sink); };
    } catch (const Error& container_error) {
        if (auto id = store.images().resolve(name))
            return [&store, id = *id](const image::ByteSink& sink) { image::write_image_rootfs_tar(store, id, sink); };
        // An ambiguous container prefix says so; a name nothing has gets one plain line.
        if (std::string_view(container_error.what()).starts_with("No such container"))
            throw Error("No such container or image: " + name);
        throw;
    }
}

void register_export(CLI::App& app, const GlobalOptions& global) {
    struct Flags {
        std::string output, name;
    };
    auto flags = std::make_shared<Flags>();
    auto* cmd = app.add_subcommand("export", "Export a container's (or an image's) filesystem as a tar archive");
    cmd->add_option("-o,--output", flags->output, "Write to a file instead of STDOUT");
    cmd->add_option("container", flags->name, "Container (or image)")->required();
    cmd->callback([flags, &global] {
        if (flags->output.empty() && ::isatty(STDOUT_FILENO))
            throw Error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        image::Store store(global.root);
        RootfsWriter write_rootfs = export_source(store, flags->name);
        if (flags->output.empty()) {
            write_rootfs([](const void* d, std::size_t n) {
                write_all(STDOUT_FILENO, std::string_view(static_cast<const char*>(d), n), "the export to stdout");
            });
            return;
        }
        image::StagingFile staged(parent_dir(flags->output), ".kiln-export-");
        write_rootfs([&](const void* d, std::size_t n) { staged.write(d, n); });
        staged.commit(flags->output, 0644);
    });
}

}  // namespace

void register_archive_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    (void)exit_code;
    register_save(app, global);
    register_load(app, global);
    register_export(app, global);
}

}  // namespace kiln::cli
