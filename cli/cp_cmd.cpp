// `kiln cp`: files between a container and the host, with docker cp's path rules. Every path
// in the container is opened beneath a descriptor of the container's root (open_in_root:
// RESOLVE_IN_ROOT, no magic links) and the copy itself runs on descriptors, so no symlink
// in the container, whenever it appears, leads to the host's files (CVE-2018-15664).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <functional>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "image/layer_tar.hpp"
#include "image/store.hpp"
#include "image/tar_stream.hpp"
#include "runtime/container_records.hpp"
#include "runtime/container_root.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

// One side of the copy as the user wrote it.
struct CopyPath {
    std::string container;  // empty: a host path
    std::string path;       // as written, trailing "/" or "/." kept
};

// docker's splitCpArg: an absolute or ./-relative path is local whatever colons it has;
// otherwise "NAME:PATH" names a container.
CopyPath parse_copy_path(const std::string& arg) {
    if (arg.starts_with('/') || arg.starts_with('.')) return {"", arg};
    auto colon = arg.find(':');
    if (colon == std::string::npos || colon == 0) return {"", arg};
    return {arg.substr(0, colon), arg.substr(colon + 1)};
}

// What a path's spelling asserts: "dir/" or "dir/." must be a directory, and "dir/." means
// its contents rather than itself.
struct PathForm {
    std::string clean;  // cleaned; absolute for container paths
    std::string parent, base;
    bool asserts_dir = false;
    bool contents = false;
};

PathForm path_form(const std::string& path, bool in_container) {
    PathForm f;
    f.contents = path == "." || path.ends_with("/.");
    f.asserts_dir = f.contents || path.ends_with('/');
    f.clean = clean_path(in_container && !path.starts_with('/') ? "/" + path : path);
    if (f.clean == "/") {
        // The whole root: its contents, as there is no name to give it.
        f.contents = f.asserts_dir = true;
        f.parent = "/";
        f.base = ".";
        return f;
    }
    auto slash = f.clean.rfind('/');
    if (slash == std::string::npos) {
        f.parent = ".";
        f.base = f.clean;
    } else {
        f.parent = slash == 0 ? "/" : f.clean.substr(0, slash);
        f.base = f.clean.substr(slash + 1);
    }
    return f;
}

// Where something is, as a parent directory's descriptor and a name in it (what the tar
// writer and the destination rules work on), with its type when it exists.
struct Located {
    UniqueFd parent;
    std::string name;
    std::optional<struct stat> st;  // of the entry itself, symlinks not followed
};

// A container path opened beneath root, following a final symlink when follow is set
// (each step resolved inside root again, so a link's target cannot leave it either).
Located locate_in_container(int root, PathForm form, bool follow) {
    for (int hops = 0;; ++hops) {
        Located at;
        at.parent = open_in_root(root, form.parent, O_PATH | O_DIRECTORY);
        at.name = form.base;
        struct stat st;
        if (::fstatat(at.parent.get(), at.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) throw_errno("stat " + form.clean);
            return at;
        }
        at.st = st;
        if (!S_ISLNK(st.st_mode) || !follow) return at;
        if (hops == 40) throw Error("too many levels of symbolic links: " + form.clean);
        std::string target(4096, '\0');
        ssize_t n = ::readlinkat(at.parent.get(), at.name.c_str(), target.data(), target.size());
        if (n < 0) throw_errno("readlink " + form.clean);
        target.resize(static_cast<std::size_t>(n));
        bool contents = form.contents;
        form = path_form(target.starts_with('/') ? target : form.parent + "/" + target, true);
        form.contents = form.contents || contents;
    }
}

Located locate_on_host(const PathForm& form, bool follow) {
    Located at;
    at.parent.reset(::open(form.parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!at.parent) throw_errno("open " + form.parent);
    at.name = form.base;
    struct stat st;
    if (::fstatat(at.parent.get(), at.name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0) {
        at.st = st;
        if (follow && !S_ISLNK(st.st_mode)) {
            // Archive the link's target under the link's name: resolve it to its own parent.
            UniqueFd target(::openat(at.parent.get(), at.name.c_str(), O_PATH | O_CLOEXEC));
            if (!target) throw_errno("open " + form.clean);
            char resolved[PATH_MAX];
            std::string fdpath = "/proc/self/fd/" + std::to_string(target.get());
            ssize_t n = ::readlink(fdpath.c_str(), resolved, sizeof(resolved) - 1);
            if (n < 0) throw_errno("resolve " + form.clean);
            std::string real(resolved, static_cast<std::size_t>(n));
            if (real != "/") {
                PathForm real_form = path_form(real, false);
                at.parent.reset(::open(real_form.parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                if (!at.parent) throw_errno("open " + real_form.parent);
                at.name = real_form.base;
            }
        }
    } else if (errno != ENOENT) {
        throw_errno("lstat " + form.clean);
    }
    return at;
}

// Where the copy lands, by docker's rules (pkg/archive CopyInfoDestinationPath): into an
// existing directory under the source's name (or its contents for "SRC/."), over an
// existing file, or as a new entry named like the destination.
struct Target {
    UniqueFd dir;              // extract into this directory
    std::string archive_name;  // the name the source's top entry takes in it
};

Target copy_target(Located dest, const PathForm& dest_form, const struct stat& src, const PathForm& src_form,
                   const std::function<UniqueFd()>& open_dest_dir, const std::string& shown_dest) {
    const bool src_dir = S_ISDIR(src.st_mode);
    if (dest.st && S_ISDIR(dest.st->st_mode)) return {open_dest_dir(), src_form.contents ? "." : src_form.base};
    if (dest.st) {
        if (src_dir) throw Error("cannot copy directory to " + shown_dest + ": it is not a directory");
        if (dest_form.asserts_dir) throw Error(shown_dest + ": not a directory");
        return {std::move(dest.parent), dest.name};
    }
    if (dest_form.asserts_dir && !src_dir) throw Error("no such directory: " + shown_dest);
    return {std::move(dest.parent), dest.name};
}

struct CopyFlags {
    bool archive = false, follow = false, quiet = false;
    std::vector<std::string> paths;
};

image::ExtractOptions extract_options(const CopyFlags& flags, uid_t uid, gid_t gid) {
    image::ExtractOptions options;
    options.layer = false;
    if (!flags.archive) options.owner = std::make_pair(uid, gid);
    return options;
}

// Packs `from` as archive_name and unpacks it into `into`; returns the tar's size.
std::uint64_t copy_tree(const Located& from, const std::string& archive_name, const std::string& from_name,
                        const Target& into, const std::string& into_name, const image::ExtractOptions& options) {
    image::TarWriteOptions write;
    write.merged = true;
    write.hash = false;
    std::uint64_t bytes = 0;
    int parent = from.parent.get();
    image::TarStream stream([&, parent](const image::ByteSink& sink) {
        image::write_entry_tar(parent, from.name, archive_name, from_name, sink, write);
    });
    auto source = stream.source();
    image::extract_tar_into(into.dir.get(), into_name, [&](void* buf, std::size_t cap) {
        std::size_t n = source(buf, cap);
        bytes += n;
        return n;
    }, options);
    stream.finish();
    return bytes;
}

void report(const CopyFlags& flags, std::uint64_t bytes, const std::string& dest) {
    // docker prints this only to a terminal; -q silences it there too.
    if (flags.quiet || !::isatty(STDERR_FILENO)) return;
    std::cerr << "Successfully copied " << human_size(bytes) << " to " << dest << "\n";
}

[[noreturn]] void not_found(const PathForm& form, const std::string& container) {
    throw Error("Could not find the file " + form.clean + " in container " + container);
}

void copy_from_container(image::Store& store, const CopyFlags& flags, const CopyPath& src, const std::string& dest) {
    runtime::ContainerRecords records(store);
    auto row = records.resolve(src.container);
    auto root = runtime::open_container_root(store, row);
    PathForm src_form = path_form(src.path, true);
    Located from;
    try {
        from = locate_in_container(root.fd.get(), src_form, flags.follow || src_form.asserts_dir);
    } catch (const Error&) {
        not_found(src_form, src.container);  // a parent that is missing or not a directory
    }
    if (!from.st) not_found(src_form, src.container);
    if (src_form.asserts_dir && !S_ISDIR(from.st->st_mode)) throw Error(src_form.clean + ": not a directory");
    const std::string archive_name = src_form.contents ? "." : src_form.base;

    if (dest == "-") {
        if (::isatty(STDOUT_FILENO)) throw Error("cowardly refusing to write a tar archive to a terminal");
        image::TarWriteOptions write;
        write.merged = true;
        write.hash = false;
        image::write_entry_tar(from.parent.get(), from.name, archive_name, src_form.parent, [](const void* d, std::size_t n) {
            write_all(STDOUT_FILENO, std::string_view(static_cast<const char*>(d), n), "the archive to stdout");
        }, write);
        return;
    }
    PathForm dest_form = path_form(dest, false);
    Located to = locate_on_host(dest_form, true);
    Target target = copy_target(std::move(to), dest_form, *from.st, src_form, [&] {
        UniqueFd dir(::open(dest_form.clean.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) throw_errno("open " + dest);
        return dir;
    }, dest);
    auto bytes = copy_tree(from, target.archive_name, src_form.parent, target, dest,
                           extract_options(flags, ::getuid(), ::getgid()));
    report(flags, bytes, dest);
}

void copy_into_container(image::Store& store, const CopyFlags& flags, const std::string& src, const CopyPath& dest) {
    runtime::ContainerRecords records(store);
    auto row = records.resolve(dest.container);
    auto root = runtime::open_container_root(store, row);
    PathForm dest_form = path_form(dest.path, true);
    const std::string shown_dest = dest.container + ":" + dest.path;
    // The container's root owns what is copied in (uid 0: kiln maps no user namespace).
    const auto options = extract_options(flags, 0, 0);
    auto open_dest_dir = [&] {
        try {
            return open_in_root(root.fd.get(), dest_form.clean, O_RDONLY | O_DIRECTORY);
        } catch (const Error&) {
            throw Error("destination \"" + shown_dest + "\" must be a directory");
        }
    };

    if (src == "-") {
        if (::isatty(STDIN_FILENO)) throw Error("cowardly refusing to read a tar archive from a terminal");
        UniqueFd dir = open_dest_dir();
        image::extract_tar_into(dir.get(), shown_dest, [](void* buf, std::size_t cap) {
            return read_some(STDIN_FILENO, buf, cap, "the archive on stdin");
        }, options);
        return;
    }
    PathForm src_form = path_form(src, false);
    Located from = locate_on_host(src_form, flags.follow || src_form.asserts_dir);
    if (!from.st) throw Error("lstat " + src_form.clean + ": no such file or directory");
    if (src_form.asserts_dir && !S_ISDIR(from.st->st_mode)) throw Error(src_form.clean + ": not a directory");
    Located to;
    try {
        to = locate_in_container(root.fd.get(), dest_form, true);
    } catch (const Error&) {
        throw Error("no such directory: " + shown_dest);
    }
    Target target = copy_target(std::move(to), dest_form, *from.st, src_form, open_dest_dir, shown_dest);
    auto bytes = copy_tree(from, target.archive_name, src_form.parent, target, shown_dest, options);
    report(flags, bytes, shown_dest);
}

}  // namespace

void register_cp_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto flags = std::make_shared<CopyFlags>();
    auto* cmd = app.add_subcommand("cp", "Copy files/folders between a container and the local filesystem");
    cmd->add_flag("-a,--archive", flags->archive, "Archive mode (copy all uid/gid information)");
    cmd->add_flag("-L,--follow-link", flags->follow, "Always follow symbol link in SRC_PATH");
    cmd->add_flag("-q,--quiet", flags->quiet, "Suppress progress output during copy");
    cmd->add_option("paths", flags->paths, "CONTAINER:SRC_PATH DEST_PATH|- or SRC_PATH|- CONTAINER:DEST_PATH")
        ->expected(2)
        ->required();
    cmd->callback([flags, &global, &exit_code] {
        CopyPath src = parse_copy_path(flags->paths[0]);
        CopyPath dest = parse_copy_path(flags->paths[1]);
        // docker cp fails with 1 for all of these, flags aside.
        try {
            if (src.container.empty() == dest.container.empty())
                throw Error(src.container.empty() ? "must specify at least one container source"
                                                  : "copying between containers is not supported");
            for (const auto* p : {&src, &dest})
                if (!p->container.empty() && p->path.empty()) throw Error("empty path in " + p->container + ":");
            image::Store store(global.root);
            if (!src.container.empty())
                copy_from_container(store, *flags, src, flags->paths[1]);
            else
                copy_into_container(store, *flags, flags->paths[0], dest);
        } catch (const Error& e) {
            std::cerr << "Error: " << e.what() << "\n";
            exit_code = 1;
        }
    });
}

}  // namespace kiln::cli
