#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "image/blob_cache.hpp"
#include "image/blob_sources.hpp"
#include "image/oci.hpp"
#include "image/pulled_manifest.hpp"
#include "image/store.hpp"
#include "registry/push.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::image::LayerInfo;
using kiln::image::parse_reference;
using kiln::registry::BlobState;
using kiln::registry::PushEvent;
using kiln::registry::PushOptions;

namespace {

// A registry in memory that logs every request ("HEAD blob sha256:…", "PUT manifest latest").
class FakeRegistry : public kiln::registry::PushTarget {
public:
    FakeRegistry(std::string domain, std::string path) : domain_(std::move(domain)), path_(std::move(path)) {}
    const std::string& domain() const override { return domain_; }
    const std::string& path() const override { return path_; }

    std::optional<Digest> head_manifest(const std::string& reference) override {
        log("HEAD manifest " + reference);
        std::lock_guard lock(mutex_);
        auto it = manifests.find(path_ + ":" + reference);
        if (it == manifests.end()) return std::nullopt;
        return it->second;
    }
    Digest put_manifest(const std::string& reference, const std::string& media_type, const std::string& bytes) override {
        log("PUT manifest " + reference + " " + media_type);
        Digest d = kiln::sha256_of(bytes);
        std::lock_guard lock(mutex_);
        auto m = nlohmann::json::parse(bytes);
        for (const auto& l : m["layers"])
            if (!blobs.count(path_ + "@" + l["digest"].get<std::string>())) throw kiln::Error("MANIFEST_BLOB_UNKNOWN");
        manifests[path_ + ":" + reference] = d;
        return d;
    }
    std::optional<std::uint64_t> head_blob(const Digest& digest) override {
        log("HEAD blob " + digest.str());
        std::lock_guard lock(mutex_);
        auto it = blobs.find(path_ + "@" + digest.str());
        if (it == blobs.end()) return std::nullopt;
        return it->second;
    }
    bool mount_blob(const Digest& digest, const std::string& from) override {
        log("MOUNT blob " + digest.str() + " from " + from);
        std::lock_guard lock(mutex_);
        auto it = blobs.find(from + "@" + digest.str());
        if (it == blobs.end()) return false;
        blobs[path_ + "@" + digest.str()] = it->second;
        return true;
    }
    void upload_blob(const Digest& digest, std::uint64_t size, const kiln::registry::BlobReader& reader,
                     const kiln::registry::Progress& progress) override {
        log("UPLOAD blob " + digest.str());
        int now = ++in_flight;
        for (int seen = max_in_flight; now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
        }
        // Long enough for the other workers to start theirs: the bound is what is checked.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::string bytes;
        char buf[4096];
        for (std::size_t n; (n = reader(bytes.size(), buf, sizeof buf)) > 0;) bytes.append(buf, n);
        --in_flight;
        if (fail_upload) throw kiln::Error("500 Internal Server Error after 4 attempts");
        if (bytes.size() != size || kiln::sha256_of(bytes) != digest) throw kiln::Error("DIGEST_INVALID");
        if (progress) progress(size, size);
        std::lock_guard lock(mutex_);
        blobs[path_ + "@" + digest.str()] = size;
    }

    std::vector<std::string> requests() {
        std::lock_guard lock(mutex_);
        return log_;
    }
    void clear_log() {
        std::lock_guard lock(mutex_);
        log_.clear();
    }
    std::size_t count(const std::string& prefix) {
        std::size_t n = 0;
        for (const auto& r : requests()) n += r.rfind(prefix, 0) == 0;
        return n;
    }
    // A second repository on the same registry shares the blob and manifest maps.
    void switch_to(const std::string& path) { path_ = path; }

    std::map<std::string, std::uint64_t> blobs;  // "repo@digest" → size
    std::map<std::string, Digest> manifests;     // "repo:reference" → digest
    bool fail_upload = false;
    std::atomic<int> in_flight{0}, max_in_flight{0};

private:
    void log(std::string line) {
        std::lock_guard lock(mutex_);
        log_.push_back(std::move(line));
    }
    std::string domain_, path_;
    std::mutex mutex_;
    std::vector<std::string> log_;
};

struct Fixture {
    kiln::TempDir root{"/tmp", "kiln-push-test-"};
    kiln::image::Store store{root.path()};
    std::vector<LayerInfo> layers;
    Digest id;

    explicit Fixture(int layer_count = 3) {
        std::optional<Digest> parent;
        nlohmann::json diff_ids = nlohmann::json::array();
        for (int i = 0; i < layer_count; ++i) {
            const std::string key = "l" + std::to_string(i);
            auto snap = store.layers().prepare(key, parent);
            kiln::atomic_write(snap.upper_dir + "/file" + std::to_string(i), std::string(1000 + i, 'a' + i));
            layers.push_back(store.layers().commit(key));
            parent = layers.back().chain_id;
            diff_ids.push_back(layers.back().diff_id.str());
        }
        nlohmann::json cfg = {{"architecture", "amd64"},
                              {"os", "linux"},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
        id = store.images().put_image(cfg.dump());
        store.images().tag("localhost:5000/app:latest", id);
    }
};

std::size_t index_of(const std::vector<std::string>& log, const std::string& prefix) {
    for (std::size_t i = 0; i < log.size(); ++i)
        if (log[i].rfind(prefix, 0) == 0) return i;
    FAIL("no request starting with " << prefix);
    return 0;
}

}  // namespace

TEST_CASE_METHOD(Fixture, "a first push uploads the layers, then the config, then the manifest", "[registry][push]") {
    FakeRegistry reg("localhost:5000", "app");
    std::vector<PushEvent> events;
    PushOptions options;
    options.observer = [&](const PushEvent& e) { events.push_back(e); };
    auto plan = kiln::registry::plan_push(store, parse_reference("localhost:5000/app"), options);
    CHECK(plan.reference == "latest");
    CHECK(plan.manifest_media_type == kiln::image::media::kOciManifest);
    REQUIRE(plan.blobs.size() == 4);
    CHECK_FALSE(plan.blobs.back().layer);
    CHECK(plan.blobs.back().digest == id);
    auto result = kiln::registry::execute_push(store, reg, plan, options);
    CHECK(result.uploaded == 4);
    CHECK(result.manifest_digest == kiln::sha256_of(plan.manifest));

    auto log = reg.requests();
    const std::size_t config_upload = index_of(log, "UPLOAD blob " + id.str());
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(index_of(log, "UPLOAD blob " + plan.blobs[i].digest.str()) < config_upload);
    CHECK(config_upload < index_of(log, "PUT manifest latest application/vnd.oci.image.manifest.v1+json"));
    // Layers are gzip (the default) and kept for the next push or save.
    auto manifest = kiln::image::parse_manifest(plan.manifest);
    for (const auto& l : manifest.layers) {
        CHECK(l.media_type == kiln::image::media::kOciLayerGzip);
        CHECK(store.content().has(l.digest));
    }
    // Every layer went Preparing → … → Pushed; the config was reported as not a layer.
    std::size_t pushed = 0;
    for (const auto& e : events) pushed += e.state == BlobState::Pushed && e.layer;
    CHECK(pushed == 3);
    CHECK(events.front().state == BlobState::Preparing);
}

TEST_CASE_METHOD(Fixture, "a second push of an unchanged image asks only for the manifest", "[registry][push]") {
    FakeRegistry reg("localhost:5000", "app");
    PushOptions options;
    auto ref = parse_reference("localhost:5000/app:latest");
    kiln::registry::execute_push(store, reg, kiln::registry::plan_push(store, ref, options), options);
    reg.clear_log();
    std::vector<PushEvent> events;
    options.observer = [&](const PushEvent& e) { events.push_back(e); };
    auto result = kiln::registry::execute_push(store, reg, kiln::registry::plan_push(store, ref, options), options);
    CHECK(reg.requests() == std::vector<std::string>{"HEAD manifest latest"});
    CHECK(result.existed == 4);
    CHECK(result.uploaded == 0);
    std::size_t exists = 0;
    for (const auto& e : events) exists += e.state == BlobState::Exists;
    CHECK(exists == 4);
}

TEST_CASE_METHOD(Fixture, "a new tag of a pushed image finds every blob with HEAD and uploads none",
                 "[registry][push]") {
    FakeRegistry reg("localhost:5000", "app");
    PushOptions options;
    kiln::registry::execute_push(store, reg, kiln::registry::plan_push(store, parse_reference("localhost:5000/app"), options),
                                 options);
    store.images().tag("localhost:5000/app:v2", id);
    reg.clear_log();
    auto result = kiln::registry::execute_push(
        store, reg, kiln::registry::plan_push(store, parse_reference("localhost:5000/app:v2"), options), options);
    CHECK(result.existed == 4);
    CHECK(reg.count("UPLOAD") == 0);
    CHECK(reg.count("HEAD blob") == 4);
    CHECK(reg.count("PUT manifest v2") == 1);
}

TEST_CASE_METHOD(Fixture, "a push to a second repository mounts the blobs from the first", "[registry][push]") {
    FakeRegistry reg("localhost:5000", "a");
    PushOptions options;
    store.images().tag("localhost:5000/a:latest", id);
    store.images().tag("localhost:5000/b:latest", id);
    kiln::registry::execute_push(store, reg, kiln::registry::plan_push(store, parse_reference("localhost:5000/a"), options),
                                 options);
    // The push recorded where its blobs are now; another registry knows nothing of them.
    CHECK(kiln::image::blob_source_repositories(store, id, "localhost:5000", "b") == std::vector<std::string>{"a"});
    CHECK(kiln::image::blob_source_repositories(store, id, "localhost:5001", "b").empty());

    reg.switch_to("b");
    reg.clear_log();
    auto plan = kiln::registry::plan_push(store, parse_reference("localhost:5000/b"), options);
    for (const auto& b : plan.blobs) CHECK(b.mount_sources == std::vector<std::string>{"a"});
    auto result = kiln::registry::execute_push(store, reg, plan, options);
    CHECK(result.mounted == 4);
    CHECK(reg.count("MOUNT blob") == 4);
    CHECK(reg.count("UPLOAD") == 0);
}

TEST_CASE_METHOD(Fixture, "a mount the registry refuses falls back to an upload", "[registry][push]") {
    FakeRegistry reg("localhost:5000", "b");
    kiln::image::record_blob_sources(store, "localhost:5000", "gone", {id});
    store.images().tag("localhost:5000/b:latest", id);
    PushOptions options;
    auto result = kiln::registry::execute_push(
        store, reg, kiln::registry::plan_push(store, parse_reference("localhost:5000/b"), options), options);
    CHECK(reg.count("MOUNT blob " + id.str() + " from gone") == 1);
    CHECK(result.uploaded == 4);
}

TEST_CASE("uploads run in parallel up to the bound and no further", "[registry][push]") {
    Fixture f(6);
    FakeRegistry reg("localhost:5000", "app");
    PushOptions options;
    options.max_concurrent_uploads = 2;
    std::set<Digest> waiting;
    options.observer = [&](const PushEvent& e) {
        if (e.state == BlobState::Waiting) waiting.insert(e.digest);
    };
    kiln::registry::execute_push(f.store, reg, kiln::registry::plan_push(f.store, parse_reference("localhost:5000/app"), options),
                                 options);
    CHECK(reg.max_in_flight <= 2);
    CHECK(waiting.size() == 4);  // six layers, two at once
    CHECK(reg.count("UPLOAD") == 7);
}

TEST_CASE_METHOD(Fixture, "a failed upload names the registry and the blob and puts no manifest", "[registry][push]") {
    FakeRegistry reg("localhost:5000", "app");
    reg.fail_upload = true;
    PushOptions options;
    auto plan = kiln::registry::plan_push(store, parse_reference("localhost:5000/app"), options);
    try {
        kiln::registry::execute_push(store, reg, plan, options);
        FAIL("the push succeeded");
    } catch (const kiln::Error& e) {
        std::string msg = e.what();
        CHECK(msg.find("registry localhost:5000: blob sha256:") == 0);
        CHECK(msg.find("500 Internal Server Error") != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
    CHECK(reg.count("PUT manifest") == 0);
    CHECK(kiln::image::blob_source_repositories(store, id, "localhost:5000", "").empty());
}

TEST_CASE_METHOD(Fixture, "pushing an image the store does not have says so", "[registry][push]") {
    PushOptions options;
    CHECK_THROWS_WITH(kiln::registry::plan_push(store, parse_reference("localhost:5000/nope"), options),
                      "An image does not exist locally with the tag: localhost:5000/nope");
    CHECK_THROWS_WITH(kiln::registry::plan_push(store, parse_reference("localhost:5000/app:v9"), options),
                      "tag does not exist: localhost:5000/app:v9");
}

TEST_CASE_METHOD(Fixture, "a push by digest puts the manifest under its digest", "[registry][push]") {
    PushOptions options;
    auto by_tag = kiln::registry::plan_push(store, parse_reference("localhost:5000/app"), options);
    auto ref = parse_reference("localhost:5000/app@" + by_tag.manifest_digest.str());
    auto plan = kiln::registry::plan_push(store, ref, options);
    CHECK(plan.reference == by_tag.manifest_digest.str());
    FakeRegistry reg("localhost:5000", "app");
    kiln::registry::execute_push(store, reg, plan, options);
    CHECK(reg.count("PUT manifest " + by_tag.manifest_digest.str()) == 1);
    CHECK_THROWS_WITH(
        kiln::registry::plan_push(store, parse_reference("localhost:5000/app@" + kiln::sha256_of("x").str()), options),
        Catch::StartsWith("tag does not exist: localhost:5000/app@sha256:"));
}

TEST_CASE_METHOD(Fixture, "a layer leaves as the compressed blob it came in as, unless a compression is asked",
                 "[registry][push]") {
    // As a pull of a Docker schema2 image keeps it: the original gzip bytes under the Docker type.
    std::string original;
    kiln::image::Compressor gz(kiln::image::Compression::Gzip, [&](const void* d, std::size_t n) {
        original.append(static_cast<const char*>(d), n);
    }, 1);
    kiln::image::stream_layer_tar(store, layers[0], gz.sink());
    Digest original_digest = gz.finish().digest;
    REQUIRE(store.content().put(original) == original_digest);
    kiln::image::record_layer_blob(
        store, layers[0].diff_id,
        kiln::image::LayerBlob{std::string(kiln::image::media::kDockerLayerGzip), original_digest, original.size()});

    PushOptions options;
    auto plan = kiln::registry::plan_push(store, parse_reference("localhost:5000/app"), options);
    CHECK(plan.blobs[0].digest == original_digest);
    CHECK(kiln::image::parse_manifest(plan.manifest).layers[0].media_type == kiln::image::media::kOciLayerGzip);

    options.compression = kiln::image::Compression::Zstd;
    auto zstd = kiln::registry::plan_push(store, parse_reference("localhost:5000/app"), options);
    for (const auto& l : kiln::image::parse_manifest(zstd.manifest).layers)
        CHECK(l.media_type == kiln::image::media::kOciLayerZstd);
    CHECK(zstd.blobs[0].digest != original_digest);
}

TEST_CASE_METHOD(Fixture, "a pulled image goes out as the manifest bytes it came with while its blobs are kept",
                 "[registry][push]") {
    // What a pull leaves: gzip blobs recorded for the layers and the registry's manifest as
    // served, here a Docker schema 2 one laid out as no serializer of kiln's would.
    auto pulled = nlohmann::ordered_json::object();
    pulled["schemaVersion"] = 2;
    pulled["mediaType"] = kiln::image::media::kDockerManifest;
    pulled["config"] = {{"mediaType", kiln::image::media::kDockerConfig},
                        {"size", store.images().config(id).size()},
                        {"digest", id.str()}};
    pulled["layers"] = nlohmann::ordered_json::array();
    std::vector<Digest> blobs;
    for (const auto& l : layers) {
        auto blob = kiln::image::ensure_layer_blob(store, l, kiln::image::Compression::Gzip);
        blobs.push_back(blob.digest);
        pulled["layers"].push_back(
            {{"mediaType", kiln::image::media::kDockerLayerGzip}, {"size", blob.size}, {"digest", blob.digest.str()}});
    }
    const std::string bytes = pulled.dump(3) + "\n";
    kiln::image::record_pulled_manifest(store, id, std::string(kiln::image::media::kDockerManifest), bytes);
    const auto ref = parse_reference("localhost:5000/copy:1");
    store.images().tag(ref.str(), id);

    PushOptions options;
    auto plan = kiln::registry::plan_push(store, ref, options);
    CHECK(plan.manifest == bytes);
    CHECK(plan.manifest_digest == kiln::sha256_of(bytes));
    CHECK(plan.manifest_media_type == kiln::image::media::kDockerManifest);
    REQUIRE(plan.blobs.size() == 4);
    for (std::size_t i = 0; i < 3; ++i) CHECK(plan.blobs[i].digest == blobs[i]);
    FakeRegistry reg("localhost:5000", "copy");
    auto result = kiln::registry::execute_push(store, reg, plan, options);
    CHECK(result.manifest_digest == kiln::sha256_of(bytes));
    CHECK(reg.count("PUT manifest 1 application/vnd.docker.distribution.manifest.v2+json") == 1);
    // By digest too: the pulled manifest's digest names the image.
    CHECK(kiln::registry::plan_push(store, parse_reference("localhost:5000/copy@" + plan.manifest_digest.str()), options)
              .manifest == bytes);

    SECTION("an asked compression makes kiln's own manifest") {
        options.compression = kiln::image::Compression::Gzip;
        CHECK(kiln::registry::plan_push(store, ref, options).manifest != bytes);
    }
    SECTION("a kept blob that is gone makes kiln's own manifest with the blobs there are") {
        REQUIRE(store.content().remove(blobs[1]));
        auto own = kiln::registry::plan_push(store, ref, options);
        CHECK(own.manifest != bytes);
        CHECK(own.manifest_media_type == kiln::image::media::kOciManifest);
        CHECK(own.blobs[0].digest == blobs[0]);
    }
    SECTION("a manifest file rotten on disk is not sent") {
        kiln::atomic_write(store.content().path(kiln::sha256_of(bytes)), bytes + " ");
        CHECK(kiln::registry::plan_push(store, ref, options).manifest != bytes);
    }
    SECTION("a manifest listing other layers is not this image's") {
        auto other = pulled;
        other["layers"].erase(other["layers"].begin());
        kiln::image::record_pulled_manifest(store, id, std::string(kiln::image::media::kDockerManifest), other.dump());
        CHECK(kiln::registry::plan_push(store, ref, options).manifest == bytes);
    }
    SECTION("removing the image removes its kept manifest") {
        store.images().remove(ref.str(), true);
        store.images().remove("localhost:5000/app:latest", true);
        CHECK_FALSE(store.content().has(kiln::sha256_of(bytes)));
    }
}

TEST_CASE_METHOD(Fixture, "a push that compresses while it uploads keeps each blob and the manifest names it",
                 "[registry][push]") {
    FakeRegistry reg("localhost:5000", "app");
    PushOptions options;
    options.compress_while_uploading = true;
    const auto ref = parse_reference("localhost:5000/app");
    auto plan = kiln::registry::plan_push(store, ref, options);
    CHECK(plan.manifest.empty());  // no layer has a blob yet: nothing was compressed
    REQUIRE(plan.blobs.size() == 4);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(plan.blobs[i].make);
        CHECK(plan.blobs[i].digest.empty());
        CHECK_FALSE(kiln::image::find_layer_blob(store, layers[i].diff_id, kiln::image::Compression::Gzip));
    }
    auto result = kiln::registry::execute_push(store, reg, plan, options);
    CHECK(result.uploaded == 4);
    CHECK(reg.manifests["app:latest"] == result.manifest_digest);

    // The blobs are kept: a compress-first plan finds them and makes the same manifest, and
    // a small blob went the ordinary way (HEAD, then one upload).
    auto kept = kiln::registry::plan_push(store, ref, PushOptions{});
    CHECK(kept.manifest_digest == result.manifest_digest);
    CHECK(kept.manifest.size() == result.manifest_size);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(reg.count("HEAD blob " + kept.blobs[i].digest.str()) == 1);
        CHECK(reg.count("UPLOAD blob " + kept.blobs[i].digest.str()) == 1);
    }
    // Now that they are kept, the next push is the unchanged-image one.
    reg.clear_log();
    kiln::registry::execute_push(store, reg, kiln::registry::plan_push(store, ref, options), options);
    CHECK(reg.requests() == std::vector<std::string>{"HEAD manifest latest"});
}

TEST_CASE("a layer larger than a stream chunk uploads while it is compressed, as the same blob", "[registry][push]") {
    kiln::TempDir root("/tmp", "kiln-push-test-");
    kiln::image::Store store(root.path());
    // Random bytes: over one stream chunk even compressed.
    std::string big(kiln::registry::kStreamChunkSize + (3u << 20), '\0');
    std::uint64_t x = 88172645463325252ull;
    for (auto& c : big) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>(x);
    }
    auto snap = store.layers().prepare("big", std::nullopt);
    kiln::atomic_write(snap.upper_dir + "/big", big);
    LayerInfo layer = store.layers().commit("big");
    nlohmann::json cfg = {{"architecture", "amd64"},
                          {"os", "linux"},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {layer.diff_id.str()}}}}};
    store.images().tag("localhost:5000/big:latest", store.images().put_image(cfg.dump()));

    FakeRegistry reg("localhost:5000", "big");
    PushOptions options;
    options.compress_while_uploading = true;
    std::vector<PushEvent> events;
    options.observer = [&](const PushEvent& e) { events.push_back(e); };
    const auto ref = parse_reference("localhost:5000/big");
    auto result = kiln::registry::execute_push(store, reg, kiln::registry::plan_push(store, ref, options), options);
    CHECK(result.uploaded == 2);

    auto blob = kiln::image::find_layer_blob(store, layer.diff_id, kiln::image::Compression::Gzip);
    REQUIRE(blob);
    CHECK(blob->size > kiln::registry::kStreamChunkSize);
    CHECK(reg.count("UPLOAD blob " + blob->digest.str()) == 1);
    CHECK(reg.count("HEAD blob " + blob->digest.str()) == 0);  // its digest was not known before
    // Pushing shows the bytes with no total until the blob is made; Pushed names the blob.
    bool unknown_total = false, pushed = false;
    for (const auto& e : events) {
        if (!e.layer) continue;
        unknown_total = unknown_total || (e.state == BlobState::Pushing && e.total == 0);
        pushed = pushed || (e.state == BlobState::Pushed && e.digest == blob->digest && e.total == blob->size);
    }
    CHECK(unknown_total);
    CHECK(pushed);
    // Compressing first gives the same blob (the bytes do not depend on how they went out),
    // and the kept file holds exactly those bytes.
    kiln::image::Compressor gz(kiln::image::Compression::Gzip, {});
    kiln::image::stream_layer_tar(store, layer, gz.sink());
    CHECK(gz.finish().digest == blob->digest);
    CHECK(kiln::image::stream_blob(store, blob->digest, [](const void*, std::size_t) {}).size == blob->size);
}

TEST_CASE_METHOD(Fixture, "flag --all-tags finds every tag of the repository and nothing else", "[registry][push]") {
    store.images().tag("localhost:5000/app:v1", id);
    store.images().tag("localhost:5000/other:v1", id);
    store.images().tag("localhost:5000/app/sub:v1", id);
    std::vector<std::string> tags;
    for (const auto& r : kiln::registry::local_tags(store, parse_reference("localhost:5000/app"))) tags.push_back(r.tag);
    CHECK(tags == std::vector<std::string>{"latest", "v1"});
}

TEST_CASE("push compression names", "[registry][push]") {
    CHECK(kiln::registry::parse_push_compression("gzip") == kiln::image::Compression::Gzip);
    CHECK(kiln::registry::parse_push_compression("zstd") == kiln::image::Compression::Zstd);
    CHECK_THROWS_WITH(kiln::registry::parse_push_compression("xz"), Catch::Contains("use gzip or zstd"));
}
