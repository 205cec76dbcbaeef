#include "image/metadata_db.hpp"

#include <sqlite3.h>

#include <chrono>

#include "util/error.hpp"

namespace kiln::image {

namespace {

// Long enough to ride out another process's commit of a layer or image (a few ms of
// writing), short enough that a wedged process is reported rather than waited on forever.
constexpr int kBusyTimeoutMs = 30000;
// The WAL length (pages) at which a commit checkpoints it into the database.
constexpr int kWalCheckpointPages = 200;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    int code = sqlite3_extended_errcode(db);
    std::string msg = "database: " + what + ": " + sqlite3_errmsg(db);
    if ((code & 0xff) == SQLITE_BUSY)
        msg += " (another kiln process holds the store's database locked for too long)";
    throw Error(msg);
}

// One prepared statement, finalized on destruction. Arguments bind in order.
class Stmt {
public:
    template <class... Args>
    Stmt(sqlite3* db, const char* sql, const Args&... args) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail(db_, sql);
        int i = 0;
        (bind(++i, args), ...);
    }
    ~Stmt() { sqlite3_finalize(stmt_); }
    // Resets the statement and binds new arguments, to run it again (bulk inserts).
    template <class... Args>
    void rebind(const Args&... args) {
        sqlite3_reset(stmt_);
        int i = 0;
        (bind(++i, args), ...);
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    // Advances; true while there is a row.
    bool step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(db_, sqlite3_sql(stmt_));
    }
    void run() {
        while (step()) {
        }
    }

    bool null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::string text(int col) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                 : std::string();
    }
    std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
    Digest digest(int col) const { return Digest::parse(text(col)); }
    std::optional<Digest> opt_digest(int col) const {
        if (null(col)) return std::nullopt;
        return digest(col);
    }

private:
    void check(int rc) {
        if (rc != SQLITE_OK) fail(db_, "bind");
    }
    void bind(int i, std::string_view v) {
        check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    void bind(int i, const std::string& v) { bind(i, std::string_view(v)); }
    void bind(int i, const char* v) { bind(i, std::string_view(v)); }
    void bind(int i, std::int64_t v) { check(sqlite3_bind_int64(stmt_, i, v)); }
    void bind(int i, std::uint64_t v) { bind(i, static_cast<std::int64_t>(v)); }
    void bind(int i, const Digest& v) { bind(i, v.str()); }
    void bind(int i, const std::optional<Digest>& v) {
        if (v)
            bind(i, *v);
        else
            check(sqlite3_bind_null(stmt_, i));
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS layers(
    chain_id TEXT PRIMARY KEY,
    diff_id  TEXT NOT NULL,
    parent   TEXT,
    size     INTEGER NOT NULL,
    short_id TEXT NOT NULL UNIQUE,
    created  INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS layers_parent ON layers(parent);
CREATE INDEX IF NOT EXISTS layers_diff ON layers(diff_id);
CREATE TABLE IF NOT EXISTS images(
    id            TEXT PRIMARY KEY,
    config_digest TEXT NOT NULL,
    top_chain_id  TEXT,
    created       INTEGER NOT NULL,
    size          INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS images_top ON images(top_chain_id);
CREATE TABLE IF NOT EXISTS refs(
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);
CREATE TABLE IF NOT EXISTS blobs(
    digest     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    diff_id    TEXT);
CREATE INDEX IF NOT EXISTS blobs_diff ON blobs(diff_id);
CREATE TABLE IF NOT EXISTS build_cache(
    key       TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    result    TEXT NOT NULL,
    created   INTEGER NOT NULL,
    last_used INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS build_cache_kind ON build_cache(kind, result);
)sql";

constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE IF NOT EXISTS file_digests(
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode    INTEGER NOT NULL,
    device   INTEGER NOT NULL,
    digest   TEXT NOT NULL);
)sql";

constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE IF NOT EXISTS leases(
    owner    TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    created  INTEGER NOT NULL,
    PRIMARY KEY(owner, chain_id));
CREATE INDEX IF NOT EXISTS leases_chain ON leases(chain_id);
)sql";

// Version 4: containers (kiln create/run/ps/rm).
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE IF NOT EXISTS containers(
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    image       TEXT NOT NULL,
    image_id    TEXT NOT NULL,
    created_ns  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    exit_code   INTEGER NOT NULL,
    started_ns  INTEGER NOT NULL,
    finished_ns INTEGER NOT NULL,
    error       TEXT NOT NULL,
    config      TEXT NOT NULL);
)sql";

constexpr const char* kContainerColumns =
    "id, name, image, image_id, created_ns, state, pid, exit_code, started_ns, finished_ns, error, config";

ContainerRow container_row(const Stmt& s) {
    return ContainerRow{s.text(0),    s.text(1),    s.text(2),    s.text(3), s.integer(4), s.text(5),
                        s.integer(6), s.integer(7), s.integer(8), s.integer(9), s.text(10), s.text(11)};
}

// Version 5, build-cache bookkeeping for `kiln cache ls/du/prune`: how often an entry was hit and which
// instruction made it. Entries from before this version start at 0 hits and no step text.
// ALTER TABLE is not idempotent as CREATE … IF NOT EXISTS is, so each column is added only
// where it is missing.
struct AddedColumn {
    const char* table;
    const char* name;
    const char* definition;
};
constexpr AddedColumn kSchemaV5[] = {
    {"build_cache", "hits", "INTEGER NOT NULL DEFAULT 0"},
    {"build_cache", "step", "TEXT NOT NULL DEFAULT ''"},
};

// Version 6: RepoDigests, the registry manifest digest each pulled image came from, per
// repository ("docker.io/library/busybox"), as docker keeps them. Self-contained so other
// migrations can be ordered around it.
constexpr const char* kSchemaV6RepoDigests = R"sql(
CREATE TABLE IF NOT EXISTS repo_digests(
    image_id   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY(image_id, repository, digest));
CREATE INDEX IF NOT EXISTS repo_digests_by_digest ON repo_digests(repository, digest);
)sql";

// Blob sources: which repositories of which registry are known to hold a blob (a push
// wrote it there, a pull read it from there), so a push to another repository of the same
// registry can mount it instead of uploading it. Version 7 (6 is repo_digests); idempotent
// on its own, so the two steps can be ordered either way.
constexpr const char* kSchemaBlobSources = R"sql(
CREATE TABLE IF NOT EXISTS blob_sources(
    digest     TEXT NOT NULL,
    domain     TEXT NOT NULL,
    repository TEXT NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY(digest, domain, repository));
)sql";

// Version 8: the image manifests a pull received, byte for byte in the content store, named
// here per image so a push can send the very manifest the registry served (its digest then
// stays the one the image came with). Idempotent on its own like the two steps before it.
constexpr const char* kSchemaV8ImageManifests = R"sql(
CREATE TABLE IF NOT EXISTS image_manifests(
    image_id   TEXT NOT NULL,
    digest     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY(image_id, digest));
)sql";

LayerRow layer_row(const Stmt& s) {
    return LayerRow{s.digest(0), s.digest(1), s.opt_digest(2), static_cast<std::uint64_t>(s.integer(3)),
                    s.text(4), s.integer(5)};
}

ImageRow image_row(const Stmt& s) {
    return ImageRow{s.digest(0), s.digest(1), s.opt_digest(2), s.integer(3),
                    static_cast<std::uint64_t>(s.integer(4))};
}

BlobRow blob_row(const Stmt& s) {
    return BlobRow{s.digest(0), s.text(1), static_cast<std::uint64_t>(s.integer(2)), s.opt_digest(3)};
}

CacheEntry cache_row(const Stmt& s) {
    return CacheEntry{s.text(0), s.text(1), s.text(2), s.integer(3), s.integer(4), s.integer(5), s.text(6)};
}

bool is_lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

std::int64_t unix_now() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

MetadataDb::MetadataDb(const std::string& path) : path_(path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        throw Error("open database " + path + ": " + msg);
    }
    try {
        sqlite3_busy_timeout(db_, kBusyTimeoutMs);
        // WAL lets readers proceed while another process writes; NORMAL sync is still
        // crash-consistent in WAL mode (an OS crash may lose only the last commits, and the
        // store writes files before rows, so a lost row leaves only an unreferenced file).
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
        // Every kiln command opens and closes the store, and the last connection to close
        // would checkpoint the WAL into the database (two fdatasyncs, about a millisecond
        // of a container start). Checkpoints then happen only as the WAL grows, which
        // changes nothing about crash consistency. But the first connection of each
        // process reads the whole WAL to rebuild its index (~3.5 us a page here), so it
        // is kept short: with SQLite's 1000-page default every `kiln ps` spent ~1.7 ms
        // on average reading it; 200 pages (a checkpoint every ~8 `run --rm`) balance
        // that against the checkpoints' fsyncs.
        sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        exec("PRAGMA wal_autocheckpoint=" + std::to_string(kWalCheckpointPages));
        migrate();
    } catch (...) {
        sqlite3_close(db_);
        throw;
    }
}

MetadataDb::~MetadataDb() { sqlite3_close(db_); }

void MetadataDb::exec(const std::string& sql) {
    std::lock_guard lock(mutex_);
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        // Re-read through fail() for the BUSY hint, keeping sqlite's own message.
        if ((sqlite3_extended_errcode(db_) & 0xff) == SQLITE_BUSY) fail(db_, sql);
        throw Error("database " + path_ + ": " + msg + " (in: " + sql.substr(0, 60) + ")");
    }
}

void MetadataDb::migrate() {
    if (schema_version() == kSchemaVersion) return;
    Transaction tx(*this);
    // Re-read under the write lock: another process may have migrated meanwhile.
    int version = schema_version();
    if (version > kSchemaVersion)
        throw Error("the store at " + path_ + " has schema version " + std::to_string(version) +
                    ", newer than this kiln understands (" + std::to_string(kSchemaVersion) +
                    "); upgrade kiln");
    if (version < 1) exec(kSchemaV1);
    if (version < 2) exec(kSchemaV2);
    if (version < 3) exec(kSchemaV3);
    if (version < 4) exec(kSchemaV4);
    if (version < 5)
        for (const auto& column : kSchemaV5) {
            bool present = false;
            {
                Stmt info(db_, (std::string("PRAGMA table_info(") + column.table + ")").c_str());
                while (info.step()) present = present || info.text(1) == column.name;
            }
            if (!present)
                exec(std::string("ALTER TABLE ") + column.table + " ADD COLUMN " + column.name + " " + column.definition);
        }
    if (version < 6) exec(kSchemaV6RepoDigests);
    if (version < 7) exec(kSchemaBlobSources);
    if (version < 8) exec(kSchemaV8ImageManifests);
    exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    tx.commit();
}

int MetadataDb::schema_version() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "PRAGMA user_version");
    return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

std::string MetadataDb::journal_mode() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "PRAGMA journal_mode");
    return s.step() ? s.text(0) : std::string();
}

MetadataDb::Transaction::Transaction(MetadataDb& db) : db_(db), lock_(db.mutex_) {
    db_.exec("BEGIN IMMEDIATE");
}

MetadataDb::Transaction::~Transaction() {
    if (!done_) sqlite3_exec(db_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void MetadataDb::Transaction::commit() {
    if (done_) throw Error("database: transaction committed twice");
    db_.exec("COMMIT");
    done_ = true;
}

// ---- layers

bool MetadataDb::put_layer(const LayerRow& r) {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "INSERT OR IGNORE INTO layers(chain_id, diff_id, parent, size, short_id, created) "
         "VALUES(?,?,?,?,?,?)",
         r.chain_id, r.diff_id, r.parent, r.size, r.short_id, r.created)
        .run();
    return sqlite3_changes(db_) > 0;
}

std::optional<LayerRow> MetadataDb::get_layer(const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT chain_id, diff_id, parent, size, short_id, created FROM layers WHERE chain_id=?",
           chain_id);
    if (!s.step()) return std::nullopt;
    return layer_row(s);
}

std::vector<LayerRow> MetadataDb::list_layers() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT chain_id, diff_id, parent, size, short_id, created FROM layers ORDER BY created, chain_id");
    std::vector<LayerRow> out;
    while (s.step()) out.push_back(layer_row(s));
    return out;
}

std::vector<LayerRow> MetadataDb::layer_chain(const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL "
           "SELECT layers.parent, up.depth + 1 FROM layers JOIN up ON layers.chain_id = up.id "
           "WHERE layers.parent IS NOT NULL) "
           "SELECT l.chain_id, l.diff_id, l.parent, l.size, l.short_id, l.created "
           "FROM up JOIN layers l ON l.chain_id = up.id ORDER BY up.depth",
           chain_id);
    std::vector<LayerRow> out;
    while (s.step()) out.push_back(layer_row(s));
    return out;
}

std::vector<Digest> MetadataDb::layer_children(const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT chain_id FROM layers WHERE parent=?", chain_id);
    std::vector<Digest> out;
    while (s.step()) out.push_back(s.digest(0));
    return out;
}

void MetadataDb::delete_layer(const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM layers WHERE chain_id=?", chain_id).run();
}

// ---- images

void MetadataDb::put_image(const ImageRow& r) {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "INSERT OR REPLACE INTO images(id, config_digest, top_chain_id, created, size) "
         "VALUES(?,?,?,?,?)",
         r.id, r.config_digest, r.top_chain_id, r.created, r.size)
        .run();
}

std::optional<ImageRow> MetadataDb::get_image(const Digest& id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id, config_digest, top_chain_id, created, size FROM images WHERE id=?", id);
    if (!s.step()) return std::nullopt;
    return image_row(s);
}

std::vector<ImageRow> MetadataDb::list_images() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id, config_digest, top_chain_id, created, size FROM images ORDER BY created DESC, id");
    std::vector<ImageRow> out;
    while (s.step()) out.push_back(image_row(s));
    return out;
}

std::vector<Digest> MetadataDb::images_with_prefix(std::string_view hex_prefix) {
    std::vector<Digest> out;
    // Only hex reaches the LIKE pattern, so '%' and '_' can never act as wildcards.
    if (!is_lower_hex(hex_prefix)) return out;
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id FROM images WHERE id LIKE ? ORDER BY id",
           "sha256:" + std::string(hex_prefix) + "%");
    while (s.step()) out.push_back(s.digest(0));
    return out;
}

std::vector<Digest> MetadataDb::images_with_top_chain(const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id FROM images WHERE top_chain_id=?", chain_id);
    std::vector<Digest> out;
    while (s.step()) out.push_back(s.digest(0));
    return out;
}

void MetadataDb::delete_image(const Digest& id) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM images WHERE id=?", id).run();
    Stmt(db_, "DELETE FROM repo_digests WHERE image_id=?", id).run();
    Stmt(db_, "DELETE FROM image_manifests WHERE image_id=?", id).run();
}

// ---- image manifests

void MetadataDb::put_image_manifest(const Digest& image_id, const Digest& digest, const std::string& media_type) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "INSERT OR REPLACE INTO image_manifests(image_id, digest, media_type, created) VALUES(?,?,?,?)",
         image_id, digest, media_type, unix_now())
        .run();
}

std::vector<ImageManifestRow> MetadataDb::image_manifests_for(const Digest& image_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT digest, media_type FROM image_manifests WHERE image_id=? ORDER BY created DESC, rowid DESC",
           image_id);
    std::vector<ImageManifestRow> out;
    while (s.step()) out.push_back(ImageManifestRow{s.digest(0), s.text(1)});
    return out;
}

// ---- repo digests

void MetadataDb::put_repo_digest(const Digest& image_id, const std::string& repository, const Digest& digest) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "INSERT OR IGNORE INTO repo_digests(image_id, repository, digest, created) VALUES(?,?,?,?)", image_id,
         repository, digest, unix_now())
        .run();
}

std::vector<std::pair<std::string, Digest>> MetadataDb::repo_digests_for(const Digest& image_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT repository, digest FROM repo_digests WHERE image_id=? ORDER BY repository, created, digest",
           image_id);
    std::vector<std::pair<std::string, Digest>> out;
    while (s.step()) out.emplace_back(s.text(0), s.digest(1));
    return out;
}

std::optional<Digest> MetadataDb::image_for_repo_digest(const std::string& repository, const Digest& digest) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT image_id FROM repo_digests WHERE repository=? AND digest=? ORDER BY created DESC LIMIT 1",
           repository, digest);
    if (!s.step()) return std::nullopt;
    return s.digest(0);
}

std::vector<Digest> MetadataDb::delete_repo_digests(const Digest& image_id, const std::string& repository) {
    std::lock_guard lock(mutex_);
    std::vector<Digest> out;
    {
        Stmt s(db_, "SELECT digest FROM repo_digests WHERE image_id=? AND repository=? ORDER BY created, digest",
               image_id, repository);
        while (s.step()) out.push_back(s.digest(0));
    }
    Stmt(db_, "DELETE FROM repo_digests WHERE image_id=? AND repository=?", image_id, repository).run();
    return out;
}

// ---- refs

void MetadataDb::set_ref(const std::string& name, const Digest& image_id) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "INSERT OR REPLACE INTO refs(name, image_id) VALUES(?,?)", name, image_id).run();
}

bool MetadataDb::delete_ref(const std::string& name) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM refs WHERE name=?", name).run();
    return sqlite3_changes(db_) > 0;
}

std::optional<Digest> MetadataDb::get_ref(const std::string& name) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT image_id FROM refs WHERE name=?", name);
    if (!s.step()) return std::nullopt;
    return s.digest(0);
}

std::vector<std::string> MetadataDb::refs_for(const Digest& image_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT name FROM refs WHERE image_id=? ORDER BY name", image_id);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

std::vector<std::pair<std::string, Digest>> MetadataDb::list_refs() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT name, image_id FROM refs ORDER BY name");
    std::vector<std::pair<std::string, Digest>> out;
    while (s.step()) out.emplace_back(s.text(0), s.digest(1));
    return out;
}

// ---- blobs

void MetadataDb::put_blob(const BlobRow& r) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "INSERT OR REPLACE INTO blobs(digest, media_type, size, diff_id) VALUES(?,?,?,?)",
         r.digest, r.media_type, r.size, r.diff_id)
        .run();
}

std::optional<BlobRow> MetadataDb::get_blob(const Digest& digest) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT digest, media_type, size, diff_id FROM blobs WHERE digest=?", digest);
    if (!s.step()) return std::nullopt;
    return blob_row(s);
}

std::vector<BlobRow> MetadataDb::blobs_for_diff(const Digest& diff_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT digest, media_type, size, diff_id FROM blobs WHERE diff_id=? ORDER BY digest",
           diff_id);
    std::vector<BlobRow> out;
    while (s.step()) out.push_back(blob_row(s));
    return out;
}

std::vector<BlobRow> MetadataDb::orphan_layer_blobs() {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT digest, media_type, size, diff_id FROM blobs WHERE diff_id IS NOT NULL AND "
           "NOT EXISTS (SELECT 1 FROM layers WHERE layers.diff_id = blobs.diff_id)");
    std::vector<BlobRow> out;
    while (s.step()) out.push_back(blob_row(s));
    return out;
}

void MetadataDb::blob_source_put(const Digest& digest, const std::string& domain, const std::string& repository) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "INSERT OR REPLACE INTO blob_sources(digest, domain, repository, last_seen) VALUES(?,?,?,?)", digest,
         domain, repository, unix_now())
        .run();
}

std::vector<std::string> MetadataDb::blob_source_repositories(const Digest& digest, const std::string& domain) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT repository FROM blob_sources WHERE digest=? AND domain=? ORDER BY last_seen DESC, repository",
           digest, domain);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

void MetadataDb::delete_blob(const Digest& digest) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM blobs WHERE digest=?", digest).run();
}

// ---- build cache

std::optional<CacheEntry> MetadataDb::cache_entry(const std::string& key) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT key, kind, result, created, last_used, hits, step FROM build_cache WHERE key=?", key);
    if (!s.step()) return std::nullopt;
    return cache_row(s);
}

std::optional<std::string> MetadataDb::cache_get(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto entry = cache_entry(key);
    if (!entry) return std::nullopt;
    // last_used drives pruning; a failed update (db busy) must not fail a cache hit.
    try {
        Stmt(db_, "UPDATE build_cache SET last_used=?, hits=hits+1 WHERE key=?", unix_now(), key).run();
    } catch (const Error&) {
    }
    return entry->result;
}

void MetadataDb::cache_put(const std::string& key, const std::string& result, const std::string& kind,
                           const std::string& step) {
    std::lock_guard lock(mutex_);
    auto now = unix_now();
    Stmt(db_,
         "INSERT INTO build_cache(key, kind, result, created, last_used, step) VALUES(?,?,?,?,?,?) "
         "ON CONFLICT(key) DO UPDATE SET kind=excluded.kind, result=excluded.result, "
         "last_used=excluded.last_used, step=CASE WHEN excluded.step='' THEN step ELSE excluded.step END",
         key, kind, result, now, now, step)
        .run();
}

std::vector<CacheEntry> MetadataDb::cache_list() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT key, kind, result, created, last_used, hits, step FROM build_cache ORDER BY last_used DESC, rowid DESC");
    std::vector<CacheEntry> out;
    while (s.step()) out.push_back(cache_row(s));
    return out;
}

bool MetadataDb::cache_delete(const std::string& key) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM build_cache WHERE key=?", key).run();
    return sqlite3_changes(db_) > 0;
}

std::vector<Digest> MetadataDb::cache_layer_roots() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT DISTINCT result FROM build_cache WHERE kind='layer'");
    std::vector<Digest> out;
    while (s.step()) {
        std::string r = s.text(0);
        if (Digest::valid(r)) out.push_back(Digest::parse(r));
    }
    return out;
}

// ---- leases

void MetadataDb::lease_add(const std::string& owner, const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "INSERT OR IGNORE INTO leases(owner, chain_id, created) VALUES(?,?,?)", owner, chain_id,
         unix_now())
        .run();
}

void MetadataDb::lease_release(const std::string& owner) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM leases WHERE owner=?", owner).run();
}

bool MetadataDb::leased(const Digest& chain_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT 1 FROM leases WHERE chain_id=? LIMIT 1", chain_id);
    return s.step();
}

std::vector<Digest> MetadataDb::leased_chains() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT DISTINCT chain_id FROM leases");
    std::vector<Digest> out;
    while (s.step()) out.push_back(s.digest(0));
    return out;
}

std::vector<std::string> MetadataDb::lease_owners() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT DISTINCT owner FROM leases ORDER BY owner");
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

// ---- build-context file digests

std::optional<std::string> MetadataDb::file_digest_get(const std::string& path, std::uint64_t size,
                                                       std::int64_t mtime_ns, std::uint64_t inode,
                                                       std::uint64_t device) {
    std::lock_guard lock(mutex_);
    Stmt s(db_,
           "SELECT digest FROM file_digests WHERE path=? AND size=? AND mtime_ns=? AND inode=? AND device=?",
           path, size, mtime_ns, inode, device);
    if (!s.step()) return std::nullopt;
    return s.text(0);
}

std::vector<FileDigestRow> MetadataDb::file_digests_under(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    // A range scan on the primary key instead of LIKE: paths may hold '%' or '_'.
    std::string end = prefix;
    end.push_back('\xff');
    Stmt s(db_,
           "SELECT path, size, mtime_ns, inode, device, digest FROM file_digests "
           "WHERE path >= ? AND path < ? ORDER BY path",
           prefix, end);
    std::vector<FileDigestRow> out;
    while (s.step())
        out.push_back(FileDigestRow{s.text(0), static_cast<std::uint64_t>(s.integer(1)), s.integer(2),
                                    static_cast<std::uint64_t>(s.integer(3)),
                                    static_cast<std::uint64_t>(s.integer(4)), s.text(5)});
    return out;
}

void MetadataDb::file_digest_put_many(const std::vector<FileDigestRow>& rows) {
    if (rows.empty()) return;
    Transaction tx(*this);
    Stmt s(db_,
           "INSERT OR REPLACE INTO file_digests(path, size, mtime_ns, inode, device, digest) "
           "VALUES(?,?,?,?,?,?)");
    for (const auto& r : rows) {
        s.rebind(r.path, r.size, r.mtime_ns, r.inode, r.device, r.digest);
        s.run();
    }
    tx.commit();
}

// ---- containers

bool MetadataDb::container_insert(const ContainerRow& r) {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "INSERT OR IGNORE INTO containers(id, name, image, image_id, created_ns, state, pid, exit_code, "
         "started_ns, finished_ns, error, config) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
         r.id, r.name, r.image, r.image_id, r.created_ns, r.state, r.pid, r.exit_code, r.started_ns,
         r.finished_ns, r.error, r.config)
        .run();
    return sqlite3_changes(db_) > 0;
}

std::optional<ContainerRow> MetadataDb::container_get(const std::string& id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, (std::string("SELECT ") + kContainerColumns + " FROM containers WHERE id=?").c_str(), id);
    if (!s.step()) return std::nullopt;
    return container_row(s);
}

std::optional<ContainerRow> MetadataDb::container_by_name(const std::string& name) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, (std::string("SELECT ") + kContainerColumns + " FROM containers WHERE name=?").c_str(), name);
    if (!s.step()) return std::nullopt;
    return container_row(s);
}

std::vector<std::string> MetadataDb::containers_with_prefix(std::string_view hex_prefix) {
    std::vector<std::string> out;
    // Only hex reaches the LIKE pattern, so '%' and '_' can never act as wildcards.
    if (hex_prefix.empty() || !is_lower_hex(hex_prefix)) return out;
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id FROM containers WHERE id LIKE ? ORDER BY id", std::string(hex_prefix) + "%");
    while (s.step()) out.push_back(s.text(0));
    return out;
}

std::vector<ContainerRow> MetadataDb::list_containers() {
    std::lock_guard lock(mutex_);
    Stmt s(db_, (std::string("SELECT ") + kContainerColumns + " FROM containers ORDER BY created_ns DESC, id").c_str());
    std::vector<ContainerRow> out;
    while (s.step()) out.push_back(container_row(s));
    return out;
}

std::vector<std::string> MetadataDb::containers_of_image(const std::string& image_id) {
    std::lock_guard lock(mutex_);
    Stmt s(db_, "SELECT id FROM containers WHERE image_id=? ORDER BY created_ns", image_id);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
}

void MetadataDb::container_set_state(const ContainerRow& r) {
    std::lock_guard lock(mutex_);
    Stmt(db_,
         "UPDATE containers SET state=?, pid=?, exit_code=?, started_ns=?, finished_ns=?, error=? WHERE id=?",
         r.state, r.pid, r.exit_code, r.started_ns, r.finished_ns, r.error, r.id)
        .run();
}

void MetadataDb::container_set_config(const std::string& id, const std::string& config) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "UPDATE containers SET config=? WHERE id=?", config, id).run();
}

bool MetadataDb::container_rename(const std::string& id, const std::string& name, const std::string& config) {
    std::lock_guard lock(mutex_);
    // OR IGNORE: a name another row holds (UNIQUE) changes nothing instead of throwing.
    Stmt(db_, "UPDATE OR IGNORE containers SET name=?, config=? WHERE id=?", name, config, id).run();
    return sqlite3_changes(db_) > 0;
}

void MetadataDb::container_delete(const std::string& id) {
    std::lock_guard lock(mutex_);
    Stmt(db_, "DELETE FROM containers WHERE id=?", id).run();
}

}  // namespace kiln::image
