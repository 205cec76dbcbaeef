#include "builder/build_output.hpp"

#include <unistd.h>

#include "image/archive_writer.hpp"
#include "image/flatten.hpp"
#include "image/staging.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/text.hpp"
#include "util/fs.hpp"

namespace kiln::builder {

namespace {

BuildOutput::Type parse_type(const std::string& type, const std::string& text) {
    using T = BuildOutput::Type;
    if (type == "image") return T::Image;
    if (type == "registry") return T::Registry;
    if (type == "local") return T::Local;
    if (type == "tar") return T::Tar;
    if (type == "oci") return T::Oci;
    if (type == "docker") return T::Docker;
    throw Error("--output \"" + text + "\": unknown type \"" + type +
                "\" (local, tar, oci, docker, image or registry)");
}

std::string parent_dir(const std::string& path) {
    std::string clean = clean_path(path);
    auto slash = clean.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : clean.substr(0, slash);
}

// A tar into dest (or stdout): staged beside dest and renamed into place when complete, so
// a failed write never leaves a truncated file where an old one was.
template <typename Produce>
void write_tar_file(const std::string& dest, Produce&& produce) {
    if (dest == "-") {
        produce(STDOUT_FILENO);
        return;
    }
    image::StagingFile staged(parent_dir(dest), ".kiln-build-output-");
    produce(staged.fd());
    staged.commit(dest, 0644);
}

void write_rootfs_tar(image::Store& store, const Digest& image_id, int fd) {
    image::write_image_rootfs_tar(store, image_id, [fd](const void* data, std::size_t size) {
        write_all(fd, std::string_view(static_cast<const char*>(data), size), "the build output");
    });
}

// The image's files into dir: its tar, staged in the store, unpacked by the safe extractor
// (the files come from RUN steps, which a Dockerfile controls).
void write_local(image::Store& store, const Digest& image_id, const std::string& dir) {
    image::StagingFile tar(store.root() + "/tmp", "build-output-");
    write_rootfs_tar(store, image_id, tar.fd());
    if (::lseek(tar.fd(), 0, SEEK_SET) != 0) throw_errno("rewind " + tar.path());
    mkdir_p(dir);
    UniqueFd dest = open_directory(dir);
    image::ExtractOptions options;
    options.layer = false;
    int fd = tar.fd();
    image::extract_tar_into(dest.get(), dir, [fd](void* buf, std::size_t cap) {
        return read_some(fd, buf, cap, "the image's files");
    }, options);
}

}  // namespace

BuildOutput parse_build_output(const std::string& text) {
    BuildOutput out;
    if (text.empty()) throw Error("--output: empty value");
    if (text == "-") {
        out.type = BuildOutput::Type::Tar;
        out.dest = "-";
        return out;
    }
    if (text.find('=') == std::string::npos) {
        out.type = BuildOutput::Type::Local;
        out.dest = text;
        return out;
    }
    std::string type;
    for (const auto& field : split_fields(text, ',')) {
        auto eq = field.find('=');
        std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (key == "type")
            type = value;
        else if (key == "dest")
            out.dest = value;
        else if (key == "push")
            out.push = value == "true";
        else if (key == "name")
            out.names.push_back(value);
        else
            throw Error("--output \"" + text + "\": unknown key \"" + key + "\"");
    }
    if (type.empty()) throw Error("--output \"" + text + "\": type= is required");
    out.type = parse_type(type, text);
    using T = BuildOutput::Type;
    if (out.type == T::Registry) out.push = true;
    const bool needs_dest = out.type == T::Local || out.type == T::Tar || out.type == T::Oci;
    if (needs_dest && out.dest.empty()) throw Error("--output \"" + text + "\": dest= is required for type=" + type);
    if (out.type == T::Local && out.to_stdout()) throw Error("--output \"" + text + "\": type=local needs a directory, not -");
    if (!out.dest.empty() && (out.type == T::Image || out.type == T::Registry))
        throw Error("--output \"" + text + "\": type=" + type + " takes no dest");
    return out;
}

void write_build_output(image::Store& store, const Digest& image_id, const std::vector<std::string>& names,
                        const BuildOutput& output, std::int64_t mtime) {
    using T = BuildOutput::Type;
    switch (output.type) {
        case T::Image:
        case T::Registry:
            return;
        case T::Local:
            write_local(store, image_id, output.dest);
            return;
        case T::Tar:
            write_tar_file(output.dest, [&](int fd) { write_rootfs_tar(store, image_id, fd); });
            return;
        case T::Oci:
        case T::Docker: {
            if (output.dest.empty()) return;  // type=docker alone: the store is where it is loaded
            image::SaveOptions options;
            options.format = output.type == T::Oci ? image::ArchiveFormat::OciArchive : image::ArchiveFormat::DockerArchive;
            options.mtime = mtime;
            std::vector<std::string> refs = names;
            if (refs.empty()) refs.push_back(image_id.str());
            write_tar_file(output.dest, [&](int fd) {
                auto out = image::tar_output(fd, mtime);
                image::save_images(store, refs, options, *out);
            });
            return;
        }
    }
}

}  // namespace kiln::builder
