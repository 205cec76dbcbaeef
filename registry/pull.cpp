#include "registry/pull.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "image/blob_cache.hpp"
#include "image/blob_sources.hpp"
#include "image/layer_store.hpp"
#include "image/pulled_manifest.hpp"
#include "image/store.hpp"
#include "registry/client.hpp"
#include "registry/layer_fetch.hpp"
#include "registry/manifest_select.hpp"
#include "registry/session.hpp"
#include "util/error.hpp"

namespace kiln::registry {

namespace {

constexpr std::size_t kMaxConcurrentDownloads = 64;

bool contains_any(const std::string& text, std::initializer_list<const char*> words) {
    for (const char* w : words)
        if (text.find(w) != std::string::npos) return true;
    return false;
}

// The manifest the reference names, with docker's wording for the two failures users meet.
ManifestResponse get_named_manifest(Repository& repo, const image::Reference& ref, const std::string& reference) {
    try {
        return repo.get_manifest(reference);
    } catch (const Error& e) {
        const std::string msg = e.what();
        if (contains_any(msg, {"UNAUTHORIZED", "DENIED", "NAME_UNKNOWN", "401", "403"}))
            throw Error("pull access denied for " + ref.familiar_repository() +
                        ", repository does not exist or may require authentication: " + msg);
        if (contains_any(msg, {"MANIFEST_UNKNOWN", "404"}))
            throw Error("manifest for " + ref.familiar() + " not found: " + msg);
        throw;
    }
}

// Whether a stored image is for the platform asked for (no --platform: any will do).
bool image_fits(image::Store& store, const Digest& id, const std::optional<image::Platform>& want) {
    if (!want) return true;
    try {
        image::ImageConfig c = image::parse_image_config(store.images().config(id));
        image::Platform have;
        have.os = c.os;
        have.architecture = c.architecture;
        have.variant = c.variant;
        return platform_rank(have, *want).has_value();
    } catch (const Error&) {
        return false;
    }
}

struct Emitter {
    const PullListener& listener;
    void message(const std::string& text) const {
        if (listener) listener(PullEvent{PullEvent::Kind::Message, text, {}, LayerStatus::PullingFsLayer, 0, 0});
    }
    void layer(const Digest& blob, LayerStatus status, std::uint64_t done = 0, std::uint64_t total = 0) const {
        if (listener) listener(PullEvent{PullEvent::Kind::Layer, {}, blob.short_hex(), status, done, total});
    }
};

// Where the pull stands once it has the image manifest to pull.
struct Resolved {
    ManifestResponse top;  // what the reference named (an index, or the manifest itself)
    PullableManifest image;
    Digest image_manifest_digest;
    std::string image_manifest_bytes;  // as served: a push of the unchanged image sends them again
    std::string image_manifest_media_type;
    bool from_index = false;
};

Resolved resolve_manifest(Repository& repo, const image::Reference& ref, const std::string& reference,
                          const image::Platform& want) {
    const std::string where = "registry " + repo.domain() + ": ";
    Resolved r;
    r.top = get_named_manifest(repo, ref, reference);
    std::string kind = manifest_kind(r.top.media_type, r.top.bytes);
    if (kind == image::media::kDockerManifestV1Signed)
        throw Error(where + ref.familiar() + " is a Docker schema 1 manifest, which kiln does not pull (it was " +
                    "deprecated in 2019); push the image again with a current client");
    ManifestResponse chosen = r.top;
    if (image::media::is_index(kind)) {
        image::Index index;
        try {
            index = image::parse_index(r.top.bytes);
        } catch (const Error& e) {
            throw Error(where + "index " + r.top.digest.str() + " of " + ref.familiar() + " is invalid: " + e.what());
        }
        auto entry = choose_manifest(index, want);
        if (!entry)
            throw Error(where + "no matching manifest for " + want.str() + " in the manifest list entries of " +
                        ref.familiar() + " (it offers " + offered_platforms(index) + ")");
        chosen = repo.get_manifest(entry->digest.str());
        if (chosen.digest != entry->digest)
            throw Error(where + "manifest " + entry->digest.str() + " came back as " + chosen.digest.str());
        kind = manifest_kind(chosen.media_type, chosen.bytes);
        r.from_index = true;
    }
    if (!image::media::is_manifest(kind))
        throw Error(where + "manifest " + chosen.digest.str() + " of " + ref.familiar() + " has media type " +
                    kind.substr(0, 120) + ", not an image manifest");
    try {
        r.image = check_manifest(chosen.bytes, "manifest " + chosen.digest.str());
    } catch (const Error& e) {
        throw Error(where + e.what());
    }
    r.image_manifest_digest = chosen.digest;
    r.image_manifest_bytes = std::move(chosen.bytes);
    r.image_manifest_media_type = kind;
    return r;
}

std::string fetch_config(Repository& repo, const image::Descriptor& d) {
    std::string bytes;
    repo.get_blob(d.digest, static_cast<std::uint64_t>(d.size), [&](const void* data, std::size_t n) {
        if (bytes.size() + n > kMaxConfigSize) throw Error("config " + d.digest.str() + " is too large");
        bytes.append(static_cast<const char*>(data), n);
    });
    if (sha256_of(bytes) != d.digest || bytes.size() != static_cast<std::uint64_t>(d.size))
        throw Error("registry " + repo.domain() + ": config " + d.digest.str() + " does not match its descriptor");
    return bytes;
}

struct Missing {
    std::size_t index;  // in the manifest's layers
    std::optional<Digest> parent;
};

// Downloads the missing layers, at most `workers` at once. The first failure stops the rest.
std::vector<FetchedLayer> fetch_layers(Repository& repo, image::Store& store, const image::Manifest& manifest,
                                       const std::vector<Missing>& missing, std::size_t workers, const Emitter& emit) {
    std::vector<std::optional<FetchedLayer>> fetched(missing.size());
    std::atomic<std::size_t> next{0};
    std::atomic<bool> cancel{false};
    std::mutex error_mutex;
    std::exception_ptr first_error;
    auto work = [&] {
        for (;;) {
            const std::size_t k = next++;
            if (k >= missing.size() || cancel.load()) return;
            const image::Descriptor& d = manifest.layers[missing[k].index];
            try {
                auto progress = [&](std::uint64_t done, std::uint64_t total) {
                    emit.layer(d.digest, LayerStatus::Downloading, done, total);
                };
                fetched[k].emplace(fetch_layer(repo, store, d, progress, cancel));
                emit.layer(d.digest, LayerStatus::VerifyingChecksum);
                emit.layer(d.digest, LayerStatus::DownloadComplete);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
                cancel = true;
                return;
            }
        }
    };
    {
        std::vector<std::jthread> pool;
        for (std::size_t i = 0; i < std::min(workers, missing.size()); ++i) pool.emplace_back(work);
    }
    if (first_error) std::rethrow_exception(first_error);
    std::vector<FetchedLayer> out;
    out.reserve(fetched.size());
    for (auto& f : fetched) out.push_back(std::move(*f));
    return out;
}

}  // namespace

std::size_t concurrent_downloads(const PullOptions& options) {
    if (options.max_concurrent_downloads > 0) return std::min(options.max_concurrent_downloads, kMaxConcurrentDownloads);
    if (const char* env = std::getenv("KILN_MAX_CONCURRENT_DOWNLOADS"); env && *env) {
        char* end = nullptr;
        long v = std::strtol(env, &end, 10);
        if (*end != '\0' || v < 1 || v > static_cast<long>(kMaxConcurrentDownloads))
            throw Error("KILN_MAX_CONCURRENT_DOWNLOADS must be a number from 1 to 64, not '" + std::string(env) + "'");
        return static_cast<std::size_t>(v);
    }
    return kDefaultConcurrentDownloads;
}

PullResult pull_image(Session& session, image::Store& store, const image::Reference& ref, const PullOptions& options) {
    Repository repo(session, ref, Access::Pull);
    return pull_image(repo, store, ref, options);
}

PullResult pull_image(Repository& repo, image::Store& store, const image::Reference& ref, const PullOptions& options) {
    const Emitter emit{options.listener};
    const std::size_t workers = concurrent_downloads(options);
    const std::string repository = ref.repository();
    const image::Platform want = options.platform.value_or(image::host_platform());
    const std::string reference = ref.digest ? ref.digest->str() : ref.tag;
    const bool tagging = !ref.digest;
    image::Reference name_ref = ref;
    if (ref.digest) name_ref.tag.clear();
    else name_ref.digest.reset();

    PullResult result;
    result.name = name_ref.str();
    auto& db = store.db();

    // Already here? By digest: a recorded RepoDigest says so without asking the registry. By
    // tag: a HEAD of the manifest, compared with the digests recorded for the tagged image.
    const std::optional<Digest> before = tagging ? db.get_ref(name_ref.str()) : std::nullopt;
    auto up_to_date = [&](const Digest& id, const Digest& manifest) {
        result.image_id = id;
        result.manifest_digest = manifest;
        result.repo_digest = repository + "@" + manifest.str();
        result.up_to_date = true;
        return result;
    };
    if (ref.digest) {
        if (auto id = db.image_for_repo_digest(repository, *ref.digest);
            id && store.images().get(*id) && image_fits(store, *id, options.platform))
            return up_to_date(*id, *ref.digest);
    } else if (before && image_fits(store, *before, options.platform)) {
        auto recorded = db.repo_digests_for(*before);
        bool any = std::any_of(recorded.begin(), recorded.end(), [&](const auto& r) { return r.first == repository; });
        if (any) {
            std::optional<Digest> current;
            try {
                current = repo.head_manifest(reference);
            } catch (const Error&) {
                // Some registries refuse HEAD; the GET below tells.
            }
            if (current)
                for (const auto& [repo_name, digest] : recorded)
                    if (repo_name == repository && digest == *current) return up_to_date(*before, *current);
        }
    }

    emit.message(reference + ": Pulling from " + ref.path);
    Resolved resolved = resolve_manifest(repo, ref, reference, want);
    const image::Manifest& manifest = resolved.image.manifest;
    const Digest image_id = manifest.config.digest;

    const bool have_image = store.images().get(image_id).has_value();
    const std::string config_bytes = have_image ? store.images().config(image_id) : fetch_config(repo, manifest.config);
    image::ImageConfig config;
    try {
        config = image::parse_image_config(config_bytes);
    } catch (const Error& e) {
        throw Error("registry " + repo.domain() + ": config " + image_id.str() + " is invalid: " + e.what());
    }
    if (config.diff_ids.size() != manifest.layers.size())
        throw Error("registry " + repo.domain() + ": manifest " + resolved.image_manifest_digest.str() + " lists " +
                    std::to_string(manifest.layers.size()) + " layers but its config has " +
                    std::to_string(config.diff_ids.size()) + " diff_ids");
    if (options.platform && !resolved.from_index) {
        image::Platform have;
        have.os = config.os;
        have.architecture = config.architecture;
        have.variant = config.variant;
        if (!platform_rank(have, *options.platform))
            throw Error("image with reference " + ref.familiar() + " was found but does not match the specified platform: wanted " +
                        options.platform->str() + ", actual: " + have.str());
    }

    // Layers: the chains already in the store are not downloaded.
    std::vector<Missing> missing;
    std::vector<Digest> chains;
    std::optional<Digest> parent;
    for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
        const Digest chain = image::chain_id(parent, config.diff_ids[i]);
        if (store.layers().get(chain))
            emit.layer(manifest.layers[i].digest, LayerStatus::AlreadyExists);
        else
            missing.push_back(Missing{i, parent});
        chains.push_back(chain);
        parent = chain;
    }
    for (const auto& m : missing) emit.layer(manifest.layers[m.index].digest, LayerStatus::PullingFsLayer);
    std::vector<FetchedLayer> fetched = fetch_layers(repo, store, manifest, missing, workers, emit);
    for (std::size_t k = 0; k < missing.size(); ++k) {
        const std::size_t i = missing[k].index;
        if (fetched[k].layer.diff_id != config.diff_ids[i])
            throw Error("registry " + repo.domain() + ": layer " + manifest.layers[i].digest.str() +
                        " does not match the config: its content is " + fetched[k].layer.diff_id.str() +
                        ", the config says " + config.diff_ids[i].str());
        emit.layer(manifest.layers[i].digest, LayerStatus::PullComplete);
    }

    // Publish bottom up, then the image, its name and its digest. Should a step fail here (a
    // full disk, a concurrent rmi), the layers published so far are taken back out.
    std::vector<Digest> published;
    try {
        for (std::size_t k = 0; k < missing.size(); ++k) {
            const std::size_t i = missing[k].index;
            FetchedLayer& f = fetched[k];
            // The blob first: a layer row must never promise a kept blob that is not there.
            Digest blob = f.blob.commit(f.blob_digest);
            image::LayerInfo info = store.layers().publish(f.layer, missing[k].parent);
            image::record_layer_blob(
                store, info.diff_id,
                image::LayerBlob{image::layer_media_type(resolved.image.compression[i]), blob, f.blob_size});
            published.push_back(info.chain_id);
        }
        if (!have_image) store.images().put_image(config_bytes);
        image::record_pulled_manifest(store, image_id, resolved.image_manifest_media_type,
                                      resolved.image_manifest_bytes);
        db.in_transaction([&] {
            if (tagging) db.set_ref(name_ref.str(), image_id);
            db.put_repo_digest(image_id, repository, resolved.top.digest);
        });
        // The registry holds these blobs in this repository: a push elsewhere on it may mount them.
        std::vector<Digest> blobs{image_id};
        for (const auto& l : manifest.layers) blobs.push_back(l.digest);
        try {
            image::record_blob_sources(store, repo.domain(), repo.path(), blobs);
        } catch (const Error&) {
            // Only a hint for a later push.
        }
    } catch (...) {
        for (auto it = published.rbegin(); it != published.rend(); ++it) store.layers().remove_layer(*it);
        throw;
    }
    result.image_id = image_id;
    result.manifest_digest = resolved.top.digest;
    result.repo_digest = repository + "@" + resolved.top.digest.str();
    result.up_to_date = before && *before == image_id;
    return result;
}

}  // namespace kiln::registry
