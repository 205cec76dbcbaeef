#include "image/archive_writer.hpp"

#include <functional>
#include <map>

#include "image/blob_cache.hpp"
#include "image/metadata_db.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::image {

namespace {

constexpr const char* kOciLayoutFile = "{\"imageLayoutVersion\":\"1.0.0\"}";
constexpr const char* kNameAnnotation = "io.containerd.image.name";
constexpr const char* kRefAnnotation = "org.opencontainers.image.ref.name";
constexpr mode_t kBlobMode = 0444;
constexpr mode_t kIndexMode = 0644;

// What the user asked for, resolved before a byte is written.
struct Wanted {
    Digest id;
    std::optional<std::string> name;  // full normalized name, when saved by name
};

Wanted resolve(Store& store, const std::string& ref) {
    std::optional<std::string> name;
    if (store.db().get_ref(ref)) {
        name = ref;
    } else if (!looks_like_image_id(ref)) {
        if (auto parsed = try_parse_reference(ref); parsed && !parsed->digest && store.db().get_ref(parsed->str()))
            name = parsed->str();
    }
    auto id = name ? store.db().get_ref(*name) : store.images().resolve(ref);
    if (!id) throw Error("No such image: " + ref);
    return Wanted{*id, name};
}

struct BlobEntry {
    std::uint64_t size = 0;
    std::function<void(const ByteSink&)> produce;
};

std::string blob_path(const Digest& d) { return "blobs/sha256/" + d.hex(); }

Descriptor descriptor(std::string_view media_type, const Digest& digest, std::uint64_t size) {
    Descriptor d;
    d.media_type = std::string(media_type);
    d.digest = digest;
    d.size = static_cast<std::int64_t>(size);
    return d;
}

}  // namespace

ManifestPlan plan_manifest(Store& store, const Digest& image_id, Compression compression, BlobChoice choice,
                           bool make_blobs) {
    ManifestPlan plan;
    plan.image_id = image_id;
    plan.config = store.images().config(image_id);
    ImageConfig config = parse_image_config(plan.config);
    auto summary = store.images().get(image_id);
    if (!summary) throw Error("No such image: " + image_id.str());
    if (summary->top_chain_id) plan.layers = store.layers().chain(*summary->top_chain_id);
    if (plan.layers.size() != config.diff_ids.size())
        throw Error("image " + image_id.str() + " has " + std::to_string(plan.layers.size()) +
                    " layers in the store but its config lists " + std::to_string(config.diff_ids.size()));
    plan.manifest.schema_version = 2;
    plan.manifest.media_type = std::string(media::kOciManifest);
    plan.manifest.config = descriptor(media::kOciConfig, image_id, plan.config.size());
    for (std::size_t i = 0; i < plan.layers.size(); ++i) {
        if (plan.layers[i].diff_id != config.diff_ids[i])
            throw Error("image " + image_id.str() + ": layer " + std::to_string(i) + " in the store is " +
                        plan.layers[i].diff_id.str() + ", its config says " + config.diff_ids[i].str());
        std::optional<LayerBlob> kept;
        if (choice == BlobChoice::PreferKept) kept = find_kept_compressed_blob(store, plan.layers[i].diff_id);
        if (!kept && choice == BlobChoice::Exact) kept = find_layer_blob(store, plan.layers[i].diff_id, compression);
        if (!kept && !make_blobs && compression != Compression::None) {
            plan.unmade.push_back(i);
            plan.manifest.layers.push_back(descriptor(layer_media_type(compression), Digest{}, 0));
            continue;
        }
        LayerBlob blob = kept ? *kept : ensure_layer_blob(store, plan.layers[i], compression);
        plan.manifest.layers.push_back(descriptor(blob.media_type, blob.digest, blob.size));
    }
    if (plan.unmade.empty()) plan.manifest_json = serialize(plan.manifest);
    return plan;
}

std::vector<SavedImage> save_images(Store& store, const std::vector<std::string>& refs,
                                    const SaveOptions& options, ArchiveOutput& out) {
    if (refs.empty()) throw Error("save: no image given");
    const bool docker = options.format == ArchiveFormat::DockerArchive;
    const Compression compression =
        options.compression.value_or(docker ? Compression::None : Compression::Gzip);

    // Images in the order first named, each with all names it was asked for.
    std::vector<SavedImage> saved;
    for (const auto& ref : refs) {
        Wanted w = resolve(store, ref);
        auto it = std::find_if(saved.begin(), saved.end(), [&](const SavedImage& s) { return s.id == w.id; });
        if (it == saved.end()) it = saved.insert(saved.end(), SavedImage{w.id, {}, {}});
        if (w.name && std::find(it->names.begin(), it->names.end(), *w.name) == it->names.end())
            it->names.push_back(*w.name);
    }

    std::map<std::string, BlobEntry> blobs;  // by hex: sorted, each once
    auto add_bytes = [&](const Digest& d, std::string bytes) {
        auto shared = std::make_shared<std::string>(std::move(bytes));
        blobs[d.hex()] = BlobEntry{shared->size(), [shared](const ByteSink& sink) { sink(shared->data(), shared->size()); }};
    };
    Index index;
    index.media_type = std::string(media::kOciIndex);
    auto manifest_list = nlohmann::ordered_json::array();
    auto repositories = nlohmann::ordered_json::object();

    for (auto& img : saved) {
        ManifestPlan plan = plan_manifest(store, img.id, compression);
        img.manifest_digest = sha256_of(plan.manifest_json);
        add_bytes(img.id, plan.config);
        for (std::size_t i = 0; i < plan.layers.size(); ++i) {
            const Descriptor& ld = plan.manifest.layers[i];
            if (blobs.count(ld.digest.hex())) continue;
            const LayerInfo layer = plan.layers[i];
            BlobEntry e;
            e.size = static_cast<std::uint64_t>(ld.size);
            if (compression == Compression::None)
                e.produce = [&store, layer](const ByteSink& sink) { stream_layer_tar(store, layer, sink); };
            else
                e.produce = [&store, d = ld.digest](const ByteSink& sink) { stream_blob(store, d, sink); };
            blobs[ld.digest.hex()] = std::move(e);
        }
        const std::size_t manifest_size = plan.manifest_json.size();
        add_bytes(img.manifest_digest, std::move(plan.manifest_json));

        Descriptor md = descriptor(media::kOciManifest, img.manifest_digest, manifest_size);
        if (img.names.empty()) index.manifests.push_back(md);
        auto tags = nlohmann::ordered_json::array();
        for (const auto& name : img.names) {
            Reference ref = parse_reference(name);
            Descriptor named = md;
            named.annotations[kNameAnnotation] = name;
            named.annotations[kRefAnnotation] = ref.tag;
            index.manifests.push_back(named);
            tags.push_back(ref.familiar());
            if (!plan.layers.empty())
                repositories[ref.familiar_repository()][ref.tag] = plan.layers.back().diff_id.hex();
        }
        if (docker) {
            nlohmann::ordered_json entry;
            entry["Config"] = blob_path(img.id);
            entry["RepoTags"] = img.names.empty() ? nlohmann::ordered_json(nullptr) : tags;
            entry["Layers"] = nlohmann::ordered_json::array();
            auto sources = nlohmann::ordered_json::object();
            for (std::size_t i = 0; i < plan.layers.size(); ++i) {
                const Descriptor& ld = plan.manifest.layers[i];
                entry["Layers"].push_back(blob_path(ld.digest));
                sources[plan.layers[i].diff_id.str()] = {
                    {"mediaType", ld.media_type}, {"size", ld.size}, {"digest", ld.digest.str()}};
            }
            if (!sources.empty()) entry["LayerSources"] = sources;
            manifest_list.push_back(entry);
        }
    }

    if (options.format != ArchiveFormat::OciDir) {
        out.add_directory("blobs");
        out.add_directory("blobs/sha256");
    } else {
        out.add_directory("blobs/sha256");
    }
    for (const auto& [hex, e] : blobs) out.add_stream("blobs/sha256/" + hex, e.size, kBlobMode, e.produce);
    out.add_bytes("index.json", serialize(index), kIndexMode);
    if (docker) out.add_bytes("manifest.json", manifest_list.dump() + "\n", kIndexMode);
    out.add_bytes("oci-layout", kOciLayoutFile, kBlobMode);
    if (docker && !repositories.empty()) out.add_bytes("repositories", repositories.dump() + "\n", kIndexMode);
    out.finish();
    return saved;
}

}  // namespace kiln::image
