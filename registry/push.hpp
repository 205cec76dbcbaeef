#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image/layer_store.hpp"
#include "image/layer_tar.hpp"
#include "image/oci.hpp"
#include "image/reference.hpp"
#include "registry/client.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::registry {

class Session;

// What happens to one blob of a push, in the order a push reports it.
enum class BlobState {
    Preparing,  // planned, not yet looked at
    Waiting,    // queued behind the upload bound
    Pushing,    // bytes going out (done/total in the event)
    Pushed,     // uploaded
    Exists,     // the registry had it already ("Layer already exists")
    Mounted,    // mounted from another repository of the registry (`from`)
};

struct PushEvent {
    BlobState state = BlobState::Preparing;
    Digest digest;                // the blob
    Digest diff_id;               // the layer's diffID (what docker shows); = digest for the config
    bool layer = true;            // false for the config blob (docker does not show it)
    std::uint64_t done = 0, total = 0;
    std::string from;             // Mounted: the source repository
};
using PushObserver = std::function<void(const PushEvent&)>;

struct PushOptions {
    // Layer blobs: unset reuses the manifest a pulled image came with (when its blobs are
    // all kept), else any compressed blob the store keeps for a layer (a pulled layer leaves
    // as the bytes it came in as) and gzips the others, for compatibility; set (gzip or
    // zstd) makes kiln's own manifest with every layer in that compression.
    std::optional<image::Compression> compression;
    std::size_t max_concurrent_uploads = 5;  // docker push's max-concurrent-uploads
    // A layer with no kept blob is compressed while it uploads (PushBlob::make) instead of
    // by plan_push before anything is sent. Ignored for a push by digest, whose plan needs
    // every blob's digest to find the manifest.
    bool compress_while_uploading = false;
    PushObserver observer;                   // called from several threads, never at once
};

struct PushResult {
    std::string reference;  // the tag pushed, or the digest when pushed by digest
    Digest manifest_digest;
    std::uint64_t manifest_size = 0;
    std::string manifest_media_type;
    std::size_t uploaded = 0, mounted = 0, existed = 0;  // blobs
};

// The registry side of a push: Repository's calls, behind an interface so the push logic
// can be tested without a registry.
class PushTarget {
public:
    virtual ~PushTarget() = default;
    virtual const std::string& domain() const = 0;
    virtual const std::string& path() const = 0;
    virtual std::optional<Digest> head_manifest(const std::string& reference) = 0;
    virtual Digest put_manifest(const std::string& reference, const std::string& media_type,
                                const std::string& bytes) = 0;
    virtual std::optional<std::uint64_t> head_blob(const Digest& digest) = 0;
    virtual bool mount_blob(const Digest& digest, const std::string& from_path) = 0;
    virtual void upload_blob(const Digest& digest, std::uint64_t size, const BlobReader& reader,
                             const Progress& progress) = 0;
    // A blob made while it uploads; returns its digest and size. The default waits until it
    // is made and uploads it as any other blob.
    virtual std::pair<Digest, std::uint64_t> upload_growing_blob(const GrowingBlob& blob, const Progress& progress);
};

// One blob the push must make sure the registry has.
struct PushBlob {
    Digest digest;
    std::uint64_t size = 0;
    Digest diff_id;  // = digest for the config
    bool layer = true;
    std::vector<std::string> mount_sources;  // other repositories of the registry that hold it
    // Set when the store keeps no blob of the layer yet (compress_while_uploading): the push
    // compresses it on the way; digest and size stay empty in the plan.
    std::optional<image::LayerInfo> make;
    image::Compression compression = image::Compression::Gzip;
};

// What a push sends, decided from the store before any request: the blobs (layers bottom
// first, then the config) and the manifest's exact bytes.
struct PushPlan {
    Digest image_id;
    std::vector<PushBlob> blobs;
    // Empty while blobs are to be made (PushBlob::make): execute_push fills `draft`'s
    // descriptors of those layers once they are made and serializes it then.
    std::string manifest;
    std::string manifest_media_type;
    Digest manifest_digest;
    image::Manifest draft;
    std::vector<Digest> layer_diff_ids;  // of draft.layers, in order
    std::string reference;  // tag, or digest string when pushing by digest
};

// The local image `ref` names (docker: "An image does not exist locally with the tag: …"
// otherwise), planned for the repository ref names on its registry. Compresses the layers
// that have no kept blob (once; the blobs stay in the store for the next push or save).
PushPlan plan_push(image::Store& store, const image::Reference& ref, const PushOptions& options);

// Runs a plan against target: when the tag already names the plan's manifest, nothing but
// that one HEAD (the registry keeps every blob a stored manifest refers to); otherwise each
// blob, at most max_concurrent_uploads at once: HEAD (present: done), else a mount from a
// known source, else an upload; then the manifest, bytes read from the store. Records in the
// store which blobs the repository now holds (image/blob_sources.hpp). Throws kiln::Error naming the
// registry and the blob.
PushResult execute_push(image::Store& store, PushTarget& target, const PushPlan& plan, const PushOptions& options);

// execute_push against ref's repository on its registry.
PushResult push_planned(Session& session, image::Store& store, const image::Reference& ref, const PushPlan& plan,
                        const PushOptions& options);
// plan_push + push_planned.
PushResult push_image(Session& session, image::Store& store, const image::Reference& ref, const PushOptions& options);

// Uploads a blob of the store's content store unless the registry has it already (HEAD);
// true when it was uploaded. For blobs outside an image push (the build cache's layers).
bool push_stored_blob(Repository& repo, image::Store& store, const Digest& digest, std::uint64_t size);

// The tags of ref's repository in the store, for `push --all-tags` (full references, sorted).
std::vector<image::Reference> local_tags(image::Store& store, const image::Reference& ref);

// "gzip" / "zstd" → the compression; throws kiln::Error for anything else.
image::Compression parse_push_compression(const std::string& name);

}  // namespace kiln::registry
