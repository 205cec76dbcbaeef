#include "builder/run_mount_setup.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "image/detached_mount.hpp"
#include "image/store.hpp"
#include "runtime/container.hpp"
#include "util/error.hpp"

namespace kiln::builder {

// A mount made at a path of kiln's own mount namespace for one RUN (the overlay of a
// stage's layers, or a throwaway upper dir over a bind source), detached when done.
class AttachedMount {
public:
    AttachedMount(const image::MountSpec& spec, const std::string& path) : path_(path) {
        UniqueFd tree = image::mount_detached(spec);
        mkdir_p(path_);
        if (::move_mount(tree.get(), "", AT_FDCWD, path_.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            throw_errno("attach a RUN --mount source at " + path_);
    }
    ~AttachedMount() { ::umount2(path_.c_str(), MNT_DETACH); }
    AttachedMount(const AttachedMount&) = delete;
    AttachedMount& operator=(const AttachedMount&) = delete;

private:
    std::string path_;
};

namespace {

// The source path relative to its tree, refused when it climbs out of it.
std::string relative_source(const RunMountSpec& spec) {
    const std::string cleaned = clean_path(spec.source.empty() ? "." : spec.source);
    if (cleaned == ".." || cleaned.starts_with("../"))
        throw Error("--mount source " + spec.source + " is outside the " +
                    (spec.from.empty() ? "build context" : "tree of from=" + spec.from));
    std::string rel = clean_path("/" + cleaned).substr(1);
    return rel;
}

const MountFrom& from_of(const RunMountSpec& spec, const RunMountInputs& inputs) {
    auto it = inputs.from.find(spec.from);
    if (it == inputs.from.end()) throw Error("--mount from=" + spec.from + ": no such stage or image");
    return it->second;
}

// rel resolved inside the context (symlinks stay in it); throws when missing.
std::string context_path(const RunMountSpec& spec, const RunMountInputs& inputs) {
    const std::string rel = relative_source(spec);
    auto resolved = resolve_in_tree(inputs.context_tree, rel, true);
    if (!resolved || !inputs.context_tree.stat(*resolved) || (!resolved->empty() && inputs.excluded(*resolved)))
        throw Error("--mount source " + spec.source + ": not found in the build context");
    return *resolved;
}

void write_secret_file(const std::string& path, const std::string& value, const RunMountSpec& spec) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) throw_errno("create the secret file");
    write_all(fd.get(), value, "the secret file");
    if (::fchown(fd.get(), spec.uid, spec.gid) != 0) throw_errno("chown the secret file");
    if (::fchmod(fd.get(), spec.mode.value_or(0400)) != 0) throw_errno("chmod the secret file");
}

void copy_tree_into(const std::string& from, const std::string& to) {
    std::error_code ec;
    std::filesystem::copy(from, to,
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks |
                              std::filesystem::copy_options::overwrite_existing,
                          ec);
    if (ec) throw Error("seed the cache mount from " + from + ": " + ec.message());
}

}  // namespace

void check_run_mounts(const std::vector<RunMountSpec>& specs, const RunMountInputs& inputs) {
    for (const auto& spec : specs) {
        switch (spec.type) {
            case RunMountType::bind:
            case RunMountType::cache:
                if (!spec.from.empty()) {
                    from_of(spec, inputs);
                    relative_source(spec);
                } else if (spec.type == RunMountType::bind || !spec.source.empty()) {
                    context_path(spec, inputs);
                }
                break;
            case RunMountType::secret:
                if (spec.required && (!inputs.secrets.contains(spec.id) || !read_secret(inputs.secrets.at(spec.id))))
                    throw Error("secret " + spec.id + ": not provided (give it with kiln build --secret id=" + spec.id + ",src=FILE)");
                break;
            case RunMountType::ssh:
                if (spec.required && !inputs.ssh.contains(spec.id))
                    throw Error("ssh agent " + spec.id + ": not provided (give it with kiln build --ssh " + spec.id + "=SOCKET)");
                break;
            case RunMountType::tmpfs:
                break;
        }
    }
}

std::optional<Digest> run_mount_sources_digest(const std::vector<RunMountSpec>& specs, const RunMountInputs& inputs) {
    std::string text;
    for (const auto& spec : specs) {
        if (spec.type != RunMountType::bind && !(spec.type == RunMountType::cache && !spec.source.empty())) continue;
        if (!spec.from.empty()) {
            // A layer chain never changes: its ID names every byte below the source.
            text += spec.target + " from " + from_of(spec, inputs).key + ":" + relative_source(spec) + "\n";
            continue;
        }
        if (spec.type == RunMountType::cache) continue;  // seeds a cache once: not an input
        const std::string rel = context_path(spec, inputs);
        auto items = plan_copy(inputs.context_tree, {rel.empty() ? "." : rel}, {}, "/mount/", nullptr, inputs.excluded);
        text += spec.target + " context " + digest_copy(inputs.context_tree, items, CopyOptions{}, inputs.excluded).str() + "\n";
    }
    if (text.empty()) return std::nullopt;
    return sha256_of(text);
}

PreparedRunMounts::PreparedRunMounts(const std::vector<RunMountSpec>& specs, const RunMountInputs& inputs,
                                     const SourceTree& parent) {
    int ssh_seen = 0;
    for (const auto& spec : specs) {
        switch (spec.type) {
            case RunMountType::bind: add_bind(spec, inputs, parent); break;
            case RunMountType::cache: add_cache(spec, inputs, parent); break;
            case RunMountType::tmpfs:
                note_stubs(spec.target, parent);
                tmpfs_.push_back(spec);
                break;
            case RunMountType::secret: add_secret(spec, inputs, parent); break;
            case RunMountType::ssh:
                if (ssh_seen++ == 0 || spec.id == "default") {
                    std::erase_if(env_, [](const std::string& e) { return e.starts_with("SSH_AUTH_SOCK="); });
                    if (inputs.ssh.contains(spec.id)) env_.push_back("SSH_AUTH_SOCK=" + spec.target);
                }
                add_ssh(spec, inputs, parent);
                break;
        }
    }
}

PreparedRunMounts::~PreparedRunMounts() {
    leases_.clear();
    mounts_.clear();  // unmounted before the scratch dir holding them goes
}

std::string PreparedRunMounts::scratch_path(const RunMountInputs& inputs) {
    if (!scratch_) scratch_ = std::make_unique<TempDir>(inputs.store.root() + "/tmp", "run-mounts-");
    return scratch_->path() + "/" + std::to_string(scratch_count_++);
}

// The host path of the mount's source: in the context, or in the mounted layers of from=.
std::string PreparedRunMounts::host_source(const RunMountSpec& spec, const RunMountInputs& inputs) {
    if (spec.from.empty()) return safe_join(inputs.context_dir, context_path(spec, inputs));
    auto view = views_.find(spec.from);
    if (view == views_.end()) {
        const std::string path = scratch_path(inputs);
        mounts_.push_back(std::make_unique<AttachedMount>(inputs.store.layers().view(from_of(spec, inputs).chain), path));
        view = views_.emplace(spec.from, path).first;
    }
    DirectoryTree tree(view->second);
    auto resolved = resolve_in_tree(tree, relative_source(spec), true);
    if (!resolved || !tree.stat(*resolved))
        throw Error("--mount source " + spec.source + ": not found in from=" + spec.from);
    return safe_join(view->second, *resolved);
}

void PreparedRunMounts::add_bind(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent) {
    std::string source = host_source(spec, inputs);
    if (!spec.readonly) {
        // rw: writes land in a throwaway copy (a directory: an overlay's upper dir).
        const std::string base = scratch_path(inputs);
        struct stat st;
        if (::stat(source.c_str(), &st) != 0) throw_errno("stat the --mount source " + spec.source);
        if (S_ISDIR(st.st_mode)) {
            if (source.find_first_of(",:=\\") != std::string::npos)
                throw Error("--mount source " + spec.source + ": its path cannot be used for an rw bind");
            mkdir_p(base + "/upper");
            mkdir_p(base + "/work");
            image::MountSpec overlay{"overlay", "overlay",
                                     "lowerdir=" + source + ",upperdir=" + base + "/upper,workdir=" + base + "/work", "", false};
            mounts_.push_back(std::make_unique<AttachedMount>(overlay, base + "/merged"));
            source = base + "/merged";
        } else {
            mkdir_p(base);
            std::filesystem::copy_file(source, base + "/file");
            source = base + "/file";
        }
    }
    note_stubs(spec.target, parent);
    binds_.push_back({source, spec.target, spec.readonly});
}

void PreparedRunMounts::add_cache(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent) {
    std::string seed_source;
    if (!spec.from.empty() || !spec.source.empty()) seed_source = host_source(spec, inputs);
    leases_.push_back(std::make_unique<CacheMountLease>(inputs.store.root(), spec, [&](const std::string& dir) {
        if (!seed_source.empty()) copy_tree_into(seed_source, dir);
    }));
    note_stubs(spec.target, parent);
    binds_.push_back({leases_.back()->dir(), spec.target, spec.readonly});
}

void PreparedRunMounts::add_secret(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent) {
    auto given = inputs.secrets.find(spec.id);
    std::optional<std::string> value;
    if (given != inputs.secrets.end()) value = read_secret(given->second);
    if (!value) {
        if (spec.required) throw Error("secret " + spec.id + ": not provided");
        return;  // BuildKit skips a secret that is not required
    }
    if (!spec.env.empty()) env_.push_back(spec.env + "=" + *value);
    if (spec.target.empty()) return;
    if (!secrets_dir_) {
        // Memory only, never the store's disk.
        secrets_dir_ = std::make_unique<TempDir>(path_exists("/dev/shm") ? "/dev/shm" : "/tmp", "kiln-secrets-");
    }
    const std::string file = secrets_dir_->path() + "/" + std::to_string(binds_.size());
    write_secret_file(file, *value, spec);
    note_stubs(spec.target, parent);
    binds_.push_back({file, spec.target, true});
}

void PreparedRunMounts::add_ssh(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent) {
    auto socket = inputs.ssh.find(spec.id);
    if (socket == inputs.ssh.end()) {
        if (spec.required) throw Error("ssh agent " + spec.id + ": not provided");
        return;
    }
    note_stubs(spec.target, parent);
    binds_.push_back({socket->second, spec.target, false});
}

// The parts of target the parent image lacks: the runtime creates them as mount points.
void PreparedRunMounts::note_stubs(const std::string& target, const SourceTree& parent) {
    const auto parts = split_path(target);
    std::string rel;
    std::vector<std::string> missing;
    for (const auto& part : parts) {
        rel += (rel.empty() ? "" : "/") + part;
        if (!missing.empty() || !parent.stat(rel)) missing.push_back(rel);
    }
    stubs_.insert(stubs_.end(), missing.rbegin(), missing.rend());
}

void PreparedRunMounts::apply_to(runtime::ContainerSpec& spec) const {
    for (const auto& t : tmpfs_) {
        runtime::TmpfsMount mount{t.target, MS_NOSUID | MS_NODEV, "mode=1777"};
        if (t.size) mount.data += ",size=" + std::to_string(*t.size);
        spec.tmpfs.push_back(std::move(mount));
    }
    for (const auto& b : binds_) spec.binds.push_back({b.source, b.target, b.readonly});
    for (const auto& e : env_) {
        const std::string name = e.substr(0, e.find('=') + 1);
        std::erase_if(spec.env, [&](const std::string& old) { return old.starts_with(name); });
        spec.env.push_back(e);
    }
}

void PreparedRunMounts::remove_stubs(const std::string& upper_dir) const {
    // Through fds and never following a link: the RUN may have left symlinks in the layer.
    for (const auto& rel : stubs_) {
        const auto parts = split_path(rel);
        UniqueFd dir = open_directory(upper_dir);
        bool reachable = true;
        for (std::size_t i = 0; i + 1 < parts.size() && reachable; ++i) {
            dir.reset(::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            reachable = static_cast<bool>(dir);
        }
        if (!reachable) continue;
        struct stat st;
        if (::fstatat(dir.get(), parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) (void)::unlinkat(dir.get(), parts.back().c_str(), AT_REMOVEDIR);  // only when empty
        else if (S_ISREG(st.st_mode) && st.st_size == 0) (void)::unlinkat(dir.get(), parts.back().c_str(), 0);
    }
}

}  // namespace kiln::builder
