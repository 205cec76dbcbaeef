#include "registry/push.hpp"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <exception>
#include <mutex>
#include <thread>

#include "image/archive_writer.hpp"
#include "image/blob_sources.hpp"
#include "image/growing_blob.hpp"
#include "image/metadata_db.hpp"
#include "image/oci.hpp"
#include "image/pulled_manifest.hpp"
#include "image/store.hpp"
#include "registry/session.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::registry {

namespace {

// Repository's calls as a PushTarget.
class RepositoryTarget : public PushTarget {
public:
    explicit RepositoryTarget(Repository& repo) : repo_(repo) {}
    const std::string& domain() const override { return repo_.domain(); }
    const std::string& path() const override { return repo_.path(); }
    std::optional<Digest> head_manifest(const std::string& reference) override { return repo_.head_manifest(reference); }
    Digest put_manifest(const std::string& reference, const std::string& media_type, const std::string& bytes) override {
        return repo_.put_manifest(reference, media_type, bytes);
    }
    std::optional<std::uint64_t> head_blob(const Digest& digest) override { return repo_.head_blob(digest); }
    bool mount_blob(const Digest& digest, const std::string& from_path) override {
        return repo_.mount_blob(digest, from_path);
    }
    void upload_blob(const Digest& digest, std::uint64_t size, const BlobReader& reader,
                     const Progress& progress) override {
        repo_.upload_blob(digest, size, reader, progress);
    }
    std::pair<Digest, std::uint64_t> upload_growing_blob(const GrowingBlob& blob, const Progress& progress) override {
        return repo_.upload_growing_blob(blob, progress);
    }

private:
    Repository& repo_;
};

// Docker's words: a repository with no local tag at all, or only not the one asked for.
std::string missing_image(image::Store& store, const image::Reference& ref) {
    if (local_tags(store, ref).empty()) return "An image does not exist locally with the tag: " + ref.familiar_repository();
    return "tag does not exist: " + ref.familiar();
}

// Layers whose blob the image lists twice (an empty layer repeated) go out once.
void add_blob(std::vector<PushBlob>& blobs, PushBlob blob) {
    for (const auto& b : blobs)
        if (b.digest == blob.digest) return;
    blobs.push_back(std::move(blob));
}

// A pulled image, unchanged and with its blobs kept, goes out as the manifest it came in as
// (docker keeps the digest of a re-pushed image the same way); anything else gets kiln's own.
// An asked-for compression means kiln's manifest with exactly that.
image::ManifestPlan plan_for(image::Store& store, const Digest& id, const PushOptions& options, bool make_blobs) {
    if (options.compression)
        return image::plan_manifest(store, id, *options.compression, image::BlobChoice::Exact, make_blobs);
    if (auto pulled = image::plan_pulled_manifest(store, id)) return std::move(*pulled);
    return image::plan_manifest(store, id, image::Compression::Gzip, image::BlobChoice::PreferKept, make_blobs);
}

// The observer, called by one thread at a time.
class Events {
public:
    explicit Events(const PushObserver& observer) : observer_(observer) {}
    void emit(BlobState state, const PushBlob& blob, std::uint64_t done = 0, std::string from = {}) {
        if (!observer_) return;
        PushEvent e{state, blob.digest, blob.diff_id, blob.layer, done, blob.size, std::move(from)};
        std::lock_guard lock(mutex_);
        observer_(e);
    }

private:
    const PushObserver& observer_;
    std::mutex mutex_;
};

// A blob's bytes in the store, read at any offset (a resumed upload reads again from where
// the registry says it stopped).
class StoredBlob {
public:
    StoredBlob(image::Store& store, const Digest& digest) : path_(store.content().path(digest)) {
        fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd_) throw_errno("blob " + digest.str() + " is not in the store (" + path_ + ")");
    }
    std::size_t read(std::uint64_t offset, void* buf, std::size_t cap) const {
        for (;;) {
            ssize_t n = ::pread(fd_.get(), buf, cap, static_cast<off_t>(offset));
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) throw_errno("read " + path_);
        }
    }

private:
    std::string path_;
    UniqueFd fd_;
};

// Makes sure the registry has one blob: HEAD, else a mount from a known source, else an upload.
BlobState push_blob(image::Store& store, PushTarget& target, const PushBlob& blob, Events& events) {
    if (target.head_blob(blob.digest)) {
        events.emit(BlobState::Exists, blob, blob.size);
        return BlobState::Exists;
    }
    for (const auto& from : blob.mount_sources) {
        if (target.mount_blob(blob.digest, from)) {
            events.emit(BlobState::Mounted, blob, blob.size, from);
            return BlobState::Mounted;
        }
    }
    StoredBlob bytes(store, blob.digest);
    events.emit(BlobState::Pushing, blob, 0);
    target.upload_blob(
        blob.digest, blob.size,
        [&](std::uint64_t offset, void* buf, std::size_t cap) { return bytes.read(offset, buf, cap); },
        [&](std::uint64_t done, std::uint64_t) { events.emit(BlobState::Pushing, blob, done); });
    events.emit(BlobState::Pushed, blob, blob.size);
    return BlobState::Pushed;
}

// The blobs a push made on the way, by diffID, for the manifest written after them.
class MadeBlobs {
public:
    void add(const Digest& diff_id, const image::LayerBlob& blob) {
        std::lock_guard lock(mutex_);
        made_.emplace_back(diff_id, blob);
    }
    std::optional<image::LayerBlob> find(const Digest& diff_id) const {
        std::lock_guard lock(mutex_);
        for (const auto& [d, b] : made_)
            if (d == diff_id) return b;
        return std::nullopt;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<Digest, image::LayerBlob>> made_;
};

// A layer with no kept blob: compressed while it uploads. One that turns out small (done
// within the first stream chunk) goes the ordinary way, HEAD first, as one PUT.
BlobState push_made_blob(image::Store& store, PushTarget& target, const PushBlob& blob, Events& events,
                         MadeBlobs& made) {
    image::GrowingLayerBlob growing(store, *blob.make, blob.compression);
    if (growing.wait(0, kStreamChunkSize) < kStreamChunkSize) {
        image::LayerBlob done = growing.finish();
        made.add(blob.diff_id, done);
        PushBlob known = blob;
        known.make.reset();
        known.digest = done.digest;
        known.size = done.size;
        return push_blob(store, target, known, events);
    }
    events.emit(BlobState::Pushing, blob, 0);
    GrowingBlob source;
    source.name = blob.diff_id.str();
    source.wait = [&](std::uint64_t offset, std::uint64_t want) { return growing.wait(offset, want); };
    source.read = [&](std::uint64_t offset, void* buf, std::size_t cap) { return growing.read(offset, buf, cap); };
    source.complete = [&] {
        image::LayerBlob done = growing.complete();
        return std::pair{done.digest, done.size};
    };
    auto [digest, size] = target.upload_growing_blob(
        source, [&](std::uint64_t done, std::uint64_t) { events.emit(BlobState::Pushing, blob, done); });
    // Kept once the registry has it: the file went to disk while the upload finished.
    made.add(blob.diff_id, growing.finish());
    PushBlob known = blob;
    known.digest = digest;
    known.size = size;
    events.emit(BlobState::Pushed, known, size);
    return BlobState::Pushed;
}

// The plan with the blobs made on the way filled in: every digest, and the manifest.
PushPlan completed(const PushPlan& plan, const MadeBlobs& made) {
    if (!plan.manifest.empty()) return plan;
    PushPlan done = plan;
    for (auto& b : done.blobs) {
        if (!b.make) continue;
        auto blob = made.find(b.diff_id);
        if (!blob) throw Error("layer " + b.diff_id.str() + " was not pushed");
        b.digest = blob->digest;
        b.size = blob->size;
        b.make.reset();
    }
    for (std::size_t i = 0; i < done.draft.layers.size(); ++i) {
        auto& d = done.draft.layers[i];
        if (!d.digest.empty()) continue;
        auto blob = made.find(done.layer_diff_ids.at(i));
        if (!blob) throw Error("layer " + done.layer_diff_ids.at(i).str() + " was not pushed");
        d.digest = blob->digest;
        d.size = static_cast<std::int64_t>(blob->size);
    }
    done.manifest = image::serialize(done.draft);
    done.manifest_digest = sha256_of(done.manifest);
    return done;
}

}  // namespace

std::pair<Digest, std::uint64_t> PushTarget::upload_growing_blob(const GrowingBlob& blob, const Progress& progress) {
    blob.wait(0, ~std::uint64_t{0});  // returns at the end
    auto [digest, size] = blob.complete();
    upload_blob(digest, size, blob.read, progress);
    return {digest, size};
}

bool push_stored_blob(Repository& repo, image::Store& store, const Digest& digest, std::uint64_t size) {
    if (repo.head_blob(digest)) return false;
    StoredBlob bytes(store, digest);
    repo.upload_blob(digest, size,
                     [&](std::uint64_t offset, void* buf, std::size_t cap) { return bytes.read(offset, buf, cap); });
    return true;
}

namespace {

// The message of a failed blob, naming registry and blob once (the client's own errors
// already do).
// A blob compressed on the way has no digest until it is made: the layer's diffID names it
// until then, and once made the client's message names the blob itself.
[[noreturn]] void rethrow_naming(const PushTarget& target, const PushBlob& blob, const std::exception& e) {
    std::string msg = e.what();
    const bool names_registry = msg.find("registry " + target.domain()) != std::string::npos;
    if (blob.make) {
        if (names_registry && msg.find("sha256:") != std::string::npos) throw Error(msg);
        throw Error("registry " + target.domain() + ": blob of layer " + blob.diff_id.str() + ": " + msg);
    }
    if (msg.find(blob.digest.str()) != std::string::npos && names_registry) throw Error(msg);
    throw Error("registry " + target.domain() + ": blob " + blob.digest.str() + ": " + msg);
}

void count(PushResult& result, BlobState state) {
    if (state == BlobState::Pushed) ++result.uploaded;
    if (state == BlobState::Mounted) ++result.mounted;
    if (state == BlobState::Exists) ++result.existed;
}

// Pushes blobs with at most `workers` at once; the first failure stops the queue and is
// thrown once every running transfer has ended.
void push_blobs(image::Store& store, PushTarget& target, const std::vector<const PushBlob*>& blobs,
                std::size_t workers, Events& events, MadeBlobs& made, PushResult& result) {
    if (blobs.empty()) return;
    workers = std::clamp<std::size_t>(workers, 1, blobs.size());
    for (std::size_t i = workers; i < blobs.size(); ++i) events.emit(BlobState::Waiting, *blobs[i]);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mutex;
    auto work = [&] {
        for (;;) {
            if (failed) return;
            std::size_t i = next++;
            if (i >= blobs.size()) return;
            const PushBlob& blob = *blobs[i];
            try {
                BlobState state =
                    blob.make ? push_made_blob(store, target, blob, events, made) : push_blob(store, target, blob, events);
                std::lock_guard lock(mutex);
                count(result, state);
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                if (!error) {
                    try {
                        rethrow_naming(target, blob, e);
                    } catch (...) {
                        error = std::current_exception();
                    }
                }
                failed = true;
                return;
            }
        }
    };
    if (workers == 1) {
        work();
    } else {
        std::vector<std::jthread> threads;
        for (std::size_t i = 0; i < workers; ++i) threads.emplace_back(work);
    }
    if (error) std::rethrow_exception(error);
}

void record_sources(image::Store& store, const PushTarget& target, const PushPlan& plan) {
    std::vector<Digest> digests;
    for (const auto& b : plan.blobs) digests.push_back(b.digest);
    try {
        image::record_blob_sources(store, target.domain(), target.path(), digests);
    } catch (const Error&) {
        // Only a hint for later mounts: a read-only or busy store does not fail the push.
    }
}

}  // namespace

image::Compression parse_push_compression(const std::string& name) {
    if (name == "gzip") return image::Compression::Gzip;
    if (name == "zstd") return image::Compression::Zstd;
    throw Error("unknown compression '" + name + "' for a push (use gzip or zstd)");
}

std::vector<image::Reference> local_tags(image::Store& store, const image::Reference& ref) {
    std::vector<image::Reference> out;
    const std::string repository = ref.repository();
    for (const auto& [name, id] : store.db().list_refs()) {
        auto parsed = image::try_parse_reference(name);
        if (parsed && !parsed->digest && !parsed->tag.empty() && parsed->repository() == repository)
            out.push_back(*parsed);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
    return out;
}

PushPlan plan_push(image::Store& store, const image::Reference& ref, const PushOptions& options) {
    std::optional<image::ManifestPlan> manifest;
    if (ref.digest) {
        // By digest: the local image of this repository whose manifest has that digest.
        image::Reference bare = ref;
        bare.digest.reset();
        bare.tag.clear();
        for (const auto& tagged : local_tags(store, bare)) {
            auto id = store.db().get_ref(tagged.str());
            if (!id) continue;
            auto candidate = plan_for(store, *id, options, true);
            if (sha256_of(candidate.manifest_json) == *ref.digest) {
                manifest = std::move(candidate);
                break;
            }
        }
        if (!manifest) throw Error(missing_image(store, ref));
    } else {
        auto id = store.db().get_ref(ref.str());
        if (!id) throw Error(missing_image(store, ref));
        manifest = plan_for(store, *id, options, !options.compress_while_uploading);
    }

    PushPlan plan;
    plan.image_id = manifest->image_id;
    plan.manifest = std::move(manifest->manifest_json);
    plan.manifest_media_type = manifest->manifest.media_type;
    if (!plan.manifest.empty()) plan.manifest_digest = sha256_of(plan.manifest);
    plan.reference = ref.digest ? ref.digest->str() : ref.tag;
    const image::Compression compression = options.compression.value_or(image::Compression::Gzip);
    for (std::size_t i = 0; i < manifest->layers.size(); ++i) {
        const auto& d = manifest->manifest.layers[i];
        const image::LayerInfo& layer = manifest->layers[i];
        plan.layer_diff_ids.push_back(layer.diff_id);
        if (std::find(manifest->unmade.begin(), manifest->unmade.end(), i) != manifest->unmade.end()) {
            // Made once even when the image lists the layer twice.
            if (std::none_of(plan.blobs.begin(), plan.blobs.end(),
                             [&](const PushBlob& b) { return b.make && b.diff_id == layer.diff_id; }))
                plan.blobs.push_back(PushBlob{Digest{}, 0, layer.diff_id, true, {}, layer, compression});
            continue;
        }
        add_blob(plan.blobs, PushBlob{d.digest, static_cast<std::uint64_t>(d.size), layer.diff_id, true,
                                      image::blob_source_repositories(store, d.digest, ref.domain, ref.path), {}, {}});
    }

    const auto& config = manifest->manifest.config;
    add_blob(plan.blobs, PushBlob{config.digest, static_cast<std::uint64_t>(config.size), config.digest, false,
                                  image::blob_source_repositories(store, config.digest, ref.domain, ref.path), {}, {}});
    plan.draft = std::move(manifest->manifest);
    return plan;
}

PushResult execute_push(image::Store& store, PushTarget& target, const PushPlan& planned, const PushOptions& options) {
    PushResult result;
    result.reference = planned.reference;
    result.manifest_media_type = planned.manifest_media_type;
    Events events(options.observer);
    for (const auto& b : planned.blobs) events.emit(BlobState::Preparing, b);

    // An unchanged image: the tag names our manifest already. The registry accepted that
    // manifest only with all its blobs present and keeps them while it is referenced, so
    // nothing else needs asking. (A plan with blobs still to make cannot know its manifest.)
    if (!planned.manifest.empty() && target.head_manifest(planned.reference) == planned.manifest_digest) {
        for (const auto& b : planned.blobs) events.emit(BlobState::Exists, b, b.size);
        result.existed = planned.blobs.size();
        result.manifest_digest = planned.manifest_digest;
        result.manifest_size = planned.manifest.size();
        record_sources(store, target, planned);
        return result;
    }

    // Layers first (in parallel), then the config, then the manifest that names them.
    std::vector<const PushBlob*> layers, config;
    for (const auto& b : planned.blobs) (b.layer ? layers : config).push_back(&b);
    MadeBlobs made;
    push_blobs(store, target, layers, options.max_concurrent_uploads, events, made, result);
    push_blobs(store, target, config, 1, events, made, result);
    const PushPlan plan = completed(planned, made);
    result.manifest_digest = plan.manifest_digest;
    result.manifest_size = plan.manifest.size();

    Digest put = target.put_manifest(plan.reference, plan.manifest_media_type, plan.manifest);
    if (put != plan.manifest_digest)
        throw Error("registry " + target.domain() + ": manifest " + plan.reference + " was stored as " + put.str() +
                    ", not " + plan.manifest_digest.str());
    record_sources(store, target, plan);
    return result;
}

PushResult push_planned(Session& session, image::Store& store, const image::Reference& ref, const PushPlan& plan,
                        const PushOptions& options) {
    Repository repo(session, ref, Access::PullPush);
    RepositoryTarget target(repo);
    return execute_push(store, target, plan, options);
}

PushResult push_image(Session& session, image::Store& store, const image::Reference& ref, const PushOptions& options) {
    return push_planned(session, store, ref, plan_push(store, ref, options), options);
}

}  // namespace kiln::registry
