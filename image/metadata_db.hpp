#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "util/digest.hpp"

struct sqlite3;

namespace kiln::image {

// Row types. Times are unix seconds.
struct LayerRow {
    Digest chain_id;
    Digest diff_id;
    std::optional<Digest> parent;
    std::uint64_t size = 0;  // bytes of the uncompressed layer tar
    std::string short_id;    // name of the l/<short> link
    std::int64_t created = 0;
};

struct ImageRow {
    Digest id;  // = config digest
    Digest config_digest;
    std::optional<Digest> top_chain_id;  // empty for an image with no layers
    std::int64_t created = 0;
    std::uint64_t size = 0;  // sum of the layers' uncompressed sizes
};

// A stored blob (compressed layer, config, manifest); diff_id set for compressed layers so
// save/push can find the blob that belongs to an unpacked layer.
struct BlobRow {
    Digest digest;
    std::string media_type;
    std::uint64_t size = 0;
    std::optional<Digest> diff_id;
};

// A manifest a pull received for an image (bytes in the content store under digest).
struct ImageManifestRow {
    Digest digest;
    std::string media_type;
};

// One build-cache entry. kind "layer" means result is a chain ID ("sha256:…"); such
// entries keep their layer alive through garbage collection. Any other kind (e.g.
// "config") is an opaque value for the builder.
struct CacheEntry {
    std::string key;
    std::string kind;
    std::string result;
    std::int64_t created = 0;
    std::int64_t last_used = 0;
    std::int64_t hits = 0;  // cache_get() calls that found it
    std::string step;       // the instruction that made it, for `kiln cache ls`
};

// A build-context file's content digest, remembered by what identifies its version on disk
// so an unchanged file is never read twice. path: absolute host path.
struct FileDigestRow {
    std::string path;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    std::uint64_t device = 0;
    std::string digest;  // whatever the builder stores ("sha256:…")
};

// A container (kiln create/run): who it is and its last known state. The rest of what it
// was created with lives in `config` (JSON, runtime/container_config.hpp). Times are unix
// nanoseconds, 0 for never.
struct ContainerRow {
    std::string id;     // 64 hex digits
    std::string name;   // without Docker's leading '/'
    std::string image;  // as the user named it
    std::string image_id;
    std::int64_t created_ns = 0;
    std::string state;  // "created", "running", "exited"
    std::int64_t pid = 0;  // the container's init on the host, while running
    std::int64_t exit_code = 0;
    std::int64_t started_ns = 0;
    std::int64_t finished_ns = 0;
    std::string error;
    std::string config;
};

// The store's SQLite database (kiln.db): WAL mode, busy timeout, versioned schema.
// Every method is safe to call from several threads; concurrent kiln processes are kept
// apart by SQLite's own locking. All SQL of kiln lives in metadata_db.cpp.
class MetadataDb {
public:
    static constexpr int kSchemaVersion = 8;

    explicit MetadataDb(const std::string& path);
    ~MetadataDb();
    MetadataDb(const MetadataDb&) = delete;
    MetadataDb& operator=(const MetadataDb&) = delete;

    // BEGIN IMMEDIATE on construction (takes the write lock up front, so a transaction
    // never fails half-way with SQLITE_BUSY on upgrade); ROLLBACK on destruction unless
    // commit() was called. Holds the db's mutex: other threads wait, the owning thread may
    // keep calling methods.
    class Transaction {
    public:
        explicit Transaction(MetadataDb& db);
        ~Transaction();
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        void commit();

    private:
        MetadataDb& db_;
        std::unique_lock<std::recursive_mutex> lock_;
        bool done_ = false;
    };
    Transaction transaction() { return Transaction(*this); }

    int schema_version();
    std::string journal_mode();
    const std::string& path() const { return path_; }

    // layers
    // Inserts the row; an existing row with the same chain ID is kept (returns false).
    bool put_layer(const LayerRow& row);
    std::optional<LayerRow> get_layer(const Digest& chain_id);
    std::vector<LayerRow> list_layers();
    // chain_id and its ancestors, top first, in one query (a 120-layer image is common).
    // Stops early if a row is missing; the caller checks the bottom has no parent.
    std::vector<LayerRow> layer_chain(const Digest& chain_id);
    std::vector<Digest> layer_children(const Digest& chain_id);
    void delete_layer(const Digest& chain_id);

    // images
    void put_image(const ImageRow& row);  // insert or replace
    std::optional<ImageRow> get_image(const Digest& id);
    std::vector<ImageRow> list_images();
    // Image ids whose hex starts with hex_prefix (lowercase hex only, else none).
    std::vector<Digest> images_with_prefix(std::string_view hex_prefix);
    std::vector<Digest> images_with_top_chain(const Digest& chain_id);
    void delete_image(const Digest& id);  // and its repo digests and manifests

    // image manifests: the manifests pulls received for an image (image/pulled_manifest.hpp).
    void put_image_manifest(const Digest& image_id, const Digest& digest, const std::string& media_type);
    std::vector<ImageManifestRow> image_manifests_for(const Digest& image_id);  // newest first

    // repo digests: (image, repository "docker.io/library/busybox", manifest digest) as a
    // pull found them; docker's RepoDigests.
    void put_repo_digest(const Digest& image_id, const std::string& repository, const Digest& digest);
    // (repository, digest) pairs of an image, by repository, oldest first.
    std::vector<std::pair<std::string, Digest>> repo_digests_for(const Digest& image_id);
    std::optional<Digest> image_for_repo_digest(const std::string& repository, const Digest& digest);
    // Deletes the image's digests in repository; returns the digests it deleted.
    std::vector<Digest> delete_repo_digests(const Digest& image_id, const std::string& repository);

    // refs (full normalized names → image id)
    void set_ref(const std::string& name, const Digest& image_id);
    bool delete_ref(const std::string& name);
    std::optional<Digest> get_ref(const std::string& name);
    std::vector<std::string> refs_for(const Digest& image_id);
    std::vector<std::pair<std::string, Digest>> list_refs();

    // blobs
    void put_blob(const BlobRow& row);  // insert or replace
    std::optional<BlobRow> get_blob(const Digest& digest);
    std::vector<BlobRow> blobs_for_diff(const Digest& diff_id);
    // Blobs whose diff_id no longer belongs to any layer.
    std::vector<BlobRow> orphan_layer_blobs();
    void delete_blob(const Digest& digest);

    // blob sources (image/blob_sources.hpp): repositories of a registry known to hold a blob
    void blob_source_put(const Digest& digest, const std::string& domain, const std::string& repository);
    // Most recently seen first.
    std::vector<std::string> blob_source_repositories(const Digest& digest, const std::string& domain);

    // build cache
    // The result stored under key, marking the entry used now and counting the hit.
    std::optional<std::string> cache_get(const std::string& key);
    std::optional<CacheEntry> cache_entry(const std::string& key);
    // Storing a key again keeps its hit count and creation time.
    void cache_put(const std::string& key, const std::string& result,
                   const std::string& kind = "layer", const std::string& step = "");
    std::vector<CacheEntry> cache_list();  // most recently used first; ties newest first
    bool cache_delete(const std::string& key);
    // Chain IDs that "layer" cache entries point at (GC roots).
    std::vector<Digest> cache_layer_roots();

    // layer leases: an owner ("container:<id>", "build:<id>") keeps a chain (and so its
    // ancestors) from being removed until it lets go. Like containerd's leases, they let
    // something outside the image table (a container, a build in flight) hold layers.
    void lease_add(const std::string& owner, const Digest& chain_id);
    void lease_release(const std::string& owner);  // drops all of owner's leases
    bool leased(const Digest& chain_id);
    std::vector<Digest> leased_chains();
    std::vector<std::string> lease_owners();

    // build-context file digests
    // The digest remembered for path, if size, mtime, inode and device all still match.
    std::optional<std::string> file_digest_get(const std::string& path, std::uint64_t size,
                                               std::int64_t mtime_ns, std::uint64_t inode,
                                               std::uint64_t device);
    // Every row whose path starts with prefix (e.g. "/ctx/"), to preload a context at once.
    std::vector<FileDigestRow> file_digests_under(const std::string& prefix);
    // Inserts or replaces all rows in one transaction.
    void file_digest_put_many(const std::vector<FileDigestRow>& rows);

    // containers
    // Inserts the row; false (nothing written) if its name is taken.
    bool container_insert(const ContainerRow& row);
    std::optional<ContainerRow> container_get(const std::string& id);
    std::optional<ContainerRow> container_by_name(const std::string& name);
    // Ids starting with hex_prefix (lowercase hex only, else none).
    std::vector<std::string> containers_with_prefix(std::string_view hex_prefix);
    std::vector<ContainerRow> list_containers();  // newest first
    // The ids of the containers created from an image ("sha256:…"), for rmi and prune.
    std::vector<std::string> containers_of_image(const std::string& image_id);
    bool image_has_containers(const std::string& image_id) { return !containers_of_image(image_id).empty(); }
    // Writes the state columns (state, pid, exit_code, started_ns, finished_ns, error).
    void container_set_state(const ContainerRow& row);
    void container_set_config(const std::string& id, const std::string& config);
    void container_delete(const std::string& id);
    // Gives the container a new name (and the config that records it); false if another
    // container has that name or the row is gone.
    bool container_rename(const std::string& id, const std::string& name, const std::string& config);

    // Runs fn inside one write transaction (commits when fn returns, rolls back on throw).
    template <class Fn>
    auto in_transaction(Fn&& fn) {
        Transaction tx(*this);
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            tx.commit();
        } else {
            auto result = fn();
            tx.commit();
            return result;
        }
    }

    // Low level: runs SQL without results (for tests and migrations).
    void exec(const std::string& sql);

private:
    void migrate();

    std::string path_;
    sqlite3* db_ = nullptr;
    std::recursive_mutex mutex_;
};

std::int64_t unix_now();

}  // namespace kiln::image
