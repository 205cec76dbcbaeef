#include "image/layer_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <random>
#include <set>

#include "image/layer_tar.hpp"
#include "image/metadata_db.hpp"
#include "image/process_lease.hpp"
#include "image/staging.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kShortIdLength = 12;
// Seconds a fresh tmp/ entry or l/ link is left alone by cleanup: covers the instant
// between its creation and its owner taking the lock or finishing the install.
constexpr long kStaleAgeSeconds = 60;
// A kept snapshot (prepare_kept) carries this file.
constexpr const char* kKeptMark = "kept";
// layers/<chainid>/reproducible-tar: see tar_reproducible().
constexpr const char* kReproducibleMark = "reproducible-tar";

bool valid_key(const std::string& key) {
    if (key.empty() || key.size() > 128 || key.front() == '.') return false;
    return std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == '-';
    });
}

void make_dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) != 0) throw_errno("create directory " + path);
    // mkdir honours the umask; the overlay upper root's mode becomes the rootfs's "/" mode.
    if (::chmod(path.c_str(), mode) != 0) throw_errno("chmod " + path);
}

// Files inside a staging dir need no atomic_write of their own: the whole dir appears by
// one rename, and nobody reads it before.
void write_new_file(const std::string& path, std::string_view data) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw_errno("create " + path);
    while (!data.empty()) {
        ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write " + path);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

Digest chain_id(const std::optional<Digest>& parent_chain, const Digest& diff_id) {
    if (!parent_chain) return diff_id;
    return sha256_of(parent_chain->str() + " " + diff_id.str());
}

LayerStore::LayerStore(std::string root, MetadataDb& db) : root_(std::move(root)), db_(db) {
    for (const char* sub : {"/layers", "/l", "/snapshots", "/tmp"}) mkdir_p(root_ + sub);
    if (!path_exists(root_ + "/l/empty")) {
        // Staged and renamed so the directory is either absent or complete (and empty).
        StagingDir stage(root_ + "/tmp", "empty-");
        make_dir(stage.path() + "/dir", 0755);
        if (::rename((stage.path() + "/dir").c_str(), (root_ + "/l/empty").c_str()) != 0 &&
            errno != EEXIST && errno != ENOTEMPTY)
            throw_errno("create " + root_ + "/l/empty");
    }
}

LayerStore::~LayerStore() = default;

LayerInfo LayerStore::info(const LayerRow& row) const {
    return LayerInfo{row.chain_id, row.diff_id, row.parent, row.size,
                     root_ + "/layers/" + row.chain_id.hex() + "/diff"};
}

std::optional<LayerInfo> LayerStore::get(const Digest& chain_id) const {
    auto row = db_.get_layer(chain_id);
    if (!row) return std::nullopt;
    return info(*row);
}

std::vector<LayerRow> LayerStore::rows_top_first(const Digest& chain_id) const {
    auto rows = db_.layer_chain(chain_id);
    if (rows.empty() || rows.back().parent)
        throw Error("layer store: layer " + (rows.empty() ? chain_id : *rows.back().parent).str() +
                    " is missing");
    return rows;
}

std::vector<LayerInfo> LayerStore::chain(const Digest& chain_id) const {
    std::vector<LayerInfo> out;
    auto rows = rows_top_first(chain_id);
    for (auto it = rows.rbegin(); it != rows.rend(); ++it) out.push_back(info(*it));
    return out;
}

std::vector<LayerInfo> LayerStore::walk() const {
    std::vector<LayerInfo> out;
    for (const auto& row : db_.list_layers()) out.push_back(info(row));
    return out;
}

std::string LayerStore::lower_dirs(const std::optional<Digest>& parent) const {
    if (!parent) return "l/empty";
    // overlayfs wants the topmost lower first.
    std::string out;
    for (const auto& row : rows_top_first(*parent)) {
        if (!out.empty()) out += ':';
        out += "l/" + row.short_id;
    }
    return out;
}

MountSpec LayerStore::overlay(const std::optional<Digest>& parent, const std::string& upper_dir,
                              const std::string& work_dir) const {
    for (const auto* p : {&upper_dir, &work_dir})
        if (p->find_first_of(",:=\\") != std::string::npos)
            throw Error("layer store: path " + *p + " cannot be used in overlay mount options");
    MountSpec m;
    m.type = "overlay";
    m.source = "overlay";
    m.options = "lowerdir=" + lower_dirs(parent) + ",upperdir=" + upper_dir + ",workdir=" + work_dir;
    m.base_dir = root_;
    return m;
}

MountSpec LayerStore::view(const std::optional<Digest>& parent) const {
    MountSpec m;
    m.base_dir = root_;
    m.readonly = true;
    std::string lowers = lower_dirs(parent);
    if (lowers.find(':') == std::string::npos) {
        // A single lower: overlay refuses a lower-only mount with one layer on older
        // kernels, and a read-only bind shows the same tree.
        m.type = "bind";
        m.source = root_ + "/" + lowers;
        return m;
    }
    m.type = "overlay";
    m.source = "overlay";
    m.options = "lowerdir=" + lowers;
    return m;
}

MountSpec LayerStore::snapshot_view(const std::string& key) const {
    Snapshot s = existing(key);
    if (s.upper_dir.find_first_of(",:=\\") != std::string::npos)
        throw Error("layer store: path " + s.upper_dir + " cannot be used in overlay mount options");
    MountSpec m;
    m.type = "overlay";
    m.source = "overlay";
    m.options = "lowerdir=" + s.upper_dir + ":" + lower_dirs(s.parent);
    m.base_dir = root_;
    m.readonly = true;
    return m;
}

Snapshot LayerStore::prepare(const std::string& key, const std::optional<Digest>& parent) {
    return create_snapshot(key, parent, false);
}

Snapshot LayerStore::prepare_kept(const std::string& key, const std::optional<Digest>& parent) {
    return create_snapshot(key, parent, true);
}

Snapshot LayerStore::existing(const std::string& key) const {
    if (!valid_key(key)) throw Error("layer store: invalid snapshot key '" + key + "'");
    const std::string dir = root_ + "/snapshots/" + key;
    if (!path_exists(dir)) throw Error("layer store: no snapshot '" + key + "'");
    Snapshot s;
    s.key = key;
    if (path_exists(dir + "/parent")) s.parent = Digest::parse(trim(read_file(dir + "/parent")));
    s.upper_dir = dir + "/upper";
    s.mount = overlay(s.parent, s.upper_dir, dir + "/work");
    return s;
}

Snapshot LayerStore::create_snapshot(const std::string& key, const std::optional<Digest>& parent, bool kept) {
    if (!valid_key(key))
        throw Error("layer store: invalid snapshot key '" + key + "' (use [A-Za-z0-9_.-], at most 128)");
    const std::string dest = root_ + "/snapshots/" + key;
    StagingDir stage(root_ + "/tmp", "snap-");
    make_dir(stage.path() + "/upper", 0755);
    make_dir(stage.path() + "/work", 0700);
    if (parent) write_new_file(stage.path() + "/parent", parent->str() + "\n");
    // Marked before it appears in snapshots/, so no sweep ever sees it unmarked and unlocked.
    if (kept) write_new_file(stage.path() + "/" + kKeptMark, "");
    {
        // The parent check and the rename share one write transaction, so remove_layer
        // (which checks snapshots in its own transaction) cannot slip in between.
        MetadataDb::Transaction tx(db_);
        if (parent && !db_.get_layer(*parent))
            throw Error("layer store: parent layer " + parent->str() + " does not exist");
        if (::rename(stage.path().c_str(), dest.c_str()) != 0) {
            if (errno == EEXIST || errno == ENOTEMPTY)
                throw Error("layer store: snapshot '" + key + "' already exists");
            throw_errno("layer store: rename snapshot into " + dest);
        }
        tx.commit();
    }
    UniqueFd lock = stage.release();
    if (!kept) {
        std::lock_guard g(mutex_);
        snapshot_locks_[key] = std::move(lock);
    }
    Snapshot s;
    s.key = key;
    s.parent = parent;
    s.upper_dir = dest + "/upper";
    s.mount = overlay(parent, s.upper_dir, dest + "/work");
    return s;
}

void LayerStore::remove(const std::string& key) {
    if (!valid_key(key)) throw Error("layer store: invalid snapshot key '" + key + "'");
    const std::string dir = root_ + "/snapshots/" + key;
    move_aside_and_remove(dir, root_ + "/tmp", "del-");
    std::lock_guard g(mutex_);
    snapshot_locks_.erase(key);
}

std::vector<std::string> LayerStore::snapshots() const { return list_dir_names(root_ + "/snapshots"); }

bool LayerStore::snapshot_uses(const Digest& chain_id) const {
    const std::string want = chain_id.str();
    for (const auto& key : snapshots()) {
        std::string p = root_ + "/snapshots/" + key + "/parent";
        if (!path_exists(p)) continue;
        try {
            if (trim(read_file(p)) == want) return true;
        } catch (const Error&) {
            // Vanished while we looked: it no longer uses anything.
        }
    }
    return false;
}

std::string LayerStore::new_short_link(const std::string& target) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::random_device rd;
    std::uniform_int_distribution<std::size_t> pick(0, sizeof kAlphabet - 2);
    for (int attempt = 0; attempt < 16; ++attempt) {
        std::string id;
        for (std::size_t i = 0; i < kShortIdLength; ++i) id += kAlphabet[pick(rd)];
        std::string link = root_ + "/l/" + id;
        if (::symlink(target.c_str(), link.c_str()) == 0) return id;
        if (errno != EEXIST) throw_errno("layer store: create link " + link);
    }
    throw Error("layer store: could not pick a free short id in " + root_ + "/l");
}

LayerInfo LayerStore::record(const LayerRow& row) {
    // In one transaction with the parent check: remove_layer refuses a parent with
    // children in its own transaction, so a child row never points at a removed parent.
    db_.in_transaction([&] {
        if (row.parent && !db_.get_layer(*row.parent))
            throw Error("layer store: parent layer " + row.parent->str() + " was removed meanwhile");
        db_.put_layer(row);
    });
    return info(*db_.get_layer(row.chain_id));
}

LayerInfo LayerStore::adopt(const Digest& chain, const Digest& diff_id, std::uint64_t size,
                            const std::optional<Digest>& parent) {
    // layers/<chain> is complete (it appears only by rename), but its row may be missing:
    // another process is about to write it, or crashed before it could. Writing the same
    // row is harmless either way.
    const std::string dir = root_ + "/layers/" + chain.hex();
    std::string short_id = trim(read_file(dir + "/link"));
    std::string link = root_ + "/l/" + short_id;
    if (!path_exists(link) && ::symlink(("../layers/" + chain.hex() + "/diff").c_str(), link.c_str()) != 0 &&
        errno != EEXIST)
        throw_errno("layer store: create link " + link);
    return record(LayerRow{chain, diff_id, parent, size, short_id, unix_now()});
}

LayerInfo LayerStore::install(const std::string& diff_src, const Digest& diff_id, std::uint64_t size,
                              const std::optional<Digest>& parent) {
    const Digest chain = chain_id(parent, diff_id);
    if (auto existing = get(chain)) return *existing;
    const std::string dest = root_ + "/layers/" + chain.hex();
    if (path_exists(dest)) return adopt(chain, diff_id, size, parent);

    // Build layers/<chain> complete in tmp/, then one rename publishes it: diff (the
    // source dir itself, moved, never copied) and link. l/<short> is made first, dangling
    // until the rename; a crash leaves only a dangling link that cleanup removes.
    StagingDir stage(root_ + "/tmp", "layer-");
    const std::string staged_diff = stage.path() + "/diff";
    if (::rename(diff_src.c_str(), staged_diff.c_str()) != 0)
        throw_errno("layer store: move " + diff_src + " into the layer store");
    std::string short_id;
    try {
        short_id = new_short_link("../layers/" + chain.hex() + "/diff");
        write_new_file(stage.path() + "/link", short_id + "\n");
    } catch (...) {
        if (!short_id.empty()) ::unlink((root_ + "/l/" + short_id).c_str());
        ::rename(staged_diff.c_str(), diff_src.c_str());  // give the caller its dir back
        throw;
    }
    if (::rename(stage.path().c_str(), dest.c_str()) != 0) {
        int err = errno;
        ::unlink((root_ + "/l/" + short_id).c_str());
        // Another process committed the same chain at the same moment: same content.
        if (err == EEXIST || err == ENOTEMPTY) return adopt(chain, diff_id, size, parent);
        ::rename(staged_diff.c_str(), diff_src.c_str());
        throw_errno("layer store: publish layer " + chain.str(), err);
    }
    stage.release();
    // The one fsync of a commit: makes the rename durable before the row is written. File
    // data is not synced (as Docker's overlay2): kill -9 cannot lose it, and after a power
    // loss the build that made it simply runs again.
    fsync_path(root_ + "/layers");

    return record(LayerRow{chain, diff_id, parent, size, short_id, unix_now()});
}

LayerInfo LayerStore::commit(const std::string& key) {
    if (!valid_key(key)) throw Error("layer store: invalid snapshot key '" + key + "'");
    const std::string dir = root_ + "/snapshots/" + key;
    if (!path_exists(dir)) throw Error("layer store: no snapshot '" + key + "'");
    std::optional<Digest> parent;
    if (path_exists(dir + "/parent")) parent = Digest::parse(trim(read_file(dir + "/parent")));
    const std::string upper = dir + "/upper";
    TarStats st = write_layer_tar(upper, {});
    const Digest chain = chain_id(parent, st.digest);
    LayerInfo out;
    if (auto existing = get(chain))
        out = *existing;  // same content again: keep the existing layer, drop this one
    else {
        out = install(upper, st.digest, st.size, parent);
        mark_tar_reproducible(out);
    }
    // The snapshot stays (holding its parent) until the new layer's row exists.
    remove(key);
    return out;
}

namespace {

// What the mark says: a copy of it beside another layer, or from another writer, is no proof.
std::string reproducible_mark(const LayerInfo& layer) {
    return "format " + std::to_string(kCanonicalTarFormat) + " diffid " + layer.diff_id.str() + " size " +
           std::to_string(layer.size) + "\n";
}

}  // namespace

bool LayerStore::tar_reproducible(const LayerInfo& layer) const {
    const std::string mark = root_ + "/layers/" + layer.chain_id.hex() + "/" + kReproducibleMark;
    if (!path_exists(mark)) return false;
    return read_file(mark) == reproducible_mark(layer);
}

void LayerStore::mark_tar_reproducible(const LayerInfo& layer) {
    // Not fsynced: a mark lost or torn by a crash reads as absent, and the next save hashes.
    const std::string mark = root_ + "/layers/" + layer.chain_id.hex() + "/" + kReproducibleMark;
    UniqueFd fd(::open(mark.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) throw_errno("create " + mark);
    write_all(fd.get(), reproducible_mark(layer), "write " + mark);
}

LayerInfo LayerStore::apply_tar(int fd, const std::optional<Digest>& parent) {
    if (parent && !get(*parent)) throw Error("layer store: parent layer " + parent->str() + " does not exist");
    StagingDir stage(root_ + "/tmp", "apply-");
    const std::string diff = stage.path() + "/diff";
    make_dir(diff, 0755);
    TarStats st = extract_layer_tar(fd, diff);
    const Digest chain = chain_id(parent, st.digest);
    if (auto existing = get(chain)) return *existing;
    return install(diff, st.digest, st.size, parent);
}

StagedLayer LayerStore::stage_tar(const ByteSource& source, const ByteSink& tar_bytes) {
    auto stage = std::make_shared<StagingDir>(root_ + "/tmp", "stage-");
    make_dir(stage->path() + "/diff", 0755);
    TarStats st = extract_layer_tar(source, stage->path() + "/diff", tar_bytes);
    return StagedLayer{st.digest, st.size, std::move(stage)};
}

LayerInfo LayerStore::publish(StagedLayer& staged, const std::optional<Digest>& parent) {
    if (!staged.stage) throw Error("layer store: layer " + staged.diff_id.str() + " was published already");
    if (parent && !get(*parent)) throw Error("layer store: parent layer " + parent->str() + " does not exist");
    const Digest chain = chain_id(parent, staged.diff_id);
    if (auto existing = get(chain)) return *existing;
    LayerInfo out = install(staged.stage->path() + "/diff", staged.diff_id, staged.size, parent);
    staged.stage.reset();
    return out;
}

bool LayerStore::remove_layer(const Digest& chain_id) {
    std::optional<LayerRow> row;
    {
        MetadataDb::Transaction tx(db_);
        row = db_.get_layer(chain_id);
        if (!row) return false;
        if (!db_.images_with_top_chain(chain_id).empty() || !db_.layer_children(chain_id).empty() ||
            db_.leased(chain_id) || snapshot_uses(chain_id))
            return false;
        db_.delete_layer(chain_id);
        tx.commit();
    }
    // The row is gone first, so nothing points at a half-deleted directory.
    const std::string dir = root_ + "/layers/" + chain_id.hex();
    ::unlink((root_ + "/l/" + row->short_id).c_str());
    move_aside_and_remove(dir, root_ + "/tmp", "del-");
    return true;
}

std::vector<Digest> LayerStore::release_chain(const Digest& chain_id) {
    std::vector<Digest> removed;
    auto roots = db_.cache_layer_roots();
    std::set<Digest> cached(roots.begin(), roots.end());
    std::optional<Digest> cur = chain_id;
    while (cur && !cached.count(*cur)) {
        auto row = db_.get_layer(*cur);
        if (!row || !remove_layer(*cur)) break;
        removed.push_back(*cur);
        cur = row->parent;
    }
    return removed;
}

std::vector<Digest> LayerStore::gc(long min_age_seconds) {
    auto rows = db_.list_layers();
    std::map<Digest, std::optional<Digest>> parent_of;
    for (const auto& r : rows) parent_of[r.chain_id] = r.parent;

    std::vector<Digest> roots = db_.cache_layer_roots();
    for (const auto& c : db_.leased_chains()) roots.push_back(c);
    for (const auto& img : db_.list_images())
        if (img.top_chain_id) roots.push_back(*img.top_chain_id);
    for (const auto& key : snapshots()) {
        std::string p = root_ + "/snapshots/" + key + "/parent";
        if (!path_exists(p)) continue;
        try {
            roots.push_back(Digest::parse(trim(read_file(p))));
        } catch (const Error&) {
        }
    }
    std::set<Digest> live;
    for (const auto& r : roots) {
        std::optional<Digest> cur = r;
        while (cur && parent_of.count(*cur) && live.insert(*cur).second) cur = parent_of[*cur];
    }

    const std::int64_t cutoff = unix_now() - min_age_seconds;
    std::vector<Digest> removed;
    // Children before parents: remove_layer refuses a layer that still has children.
    bool progress = true;
    while (progress) {
        progress = false;
        for (const auto& r : rows) {
            if (live.count(r.chain_id) || r.created > cutoff) continue;
            if (std::find(removed.begin(), removed.end(), r.chain_id) != removed.end()) continue;
            if (remove_layer(r.chain_id)) {
                removed.push_back(r.chain_id);
                progress = true;
            }
        }
    }
    return removed;
}

void LayerStore::cleanup() {
    remove_stale_entries(root_ + "/tmp", kStaleAgeSeconds);
    // A snapshot is locked from before it appears in snapshots/, so no age grace is needed.
    // A kept one (a container's) has its mark from then on too (create_snapshot writes it in
    // the stage): it is passed over without trying its lock, which every kiln command would
    // otherwise do for each one.
    remove_stale_entries(root_ + "/snapshots", 0, {}, [this](const std::string& key) {
        return path_exists(root_ + "/snapshots/" + key + "/" + kKeptMark);
    });
    release_dead_process_leases(db_, root_);
    const std::time_t now = std::time(nullptr);
    for (const auto& name : list_dir_names(root_ + "/l")) {
        if (name == "empty") continue;
        std::string link = root_ + "/l/" + name;
        struct stat st;
        if (::lstat(link.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
        if (::stat(link.c_str(), &st) == 0) continue;  // its layer exists
        if (::lstat(link.c_str(), &st) == 0 && now - st.st_ctime >= kStaleAgeSeconds) ::unlink(link.c_str());
    }
}

}  // namespace kiln::image
