#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image/reference.hpp"
#include "util/digest.hpp"

namespace kiln::registry {

class Session;

// Bytes of a blob as they arrive, in order, already counted against the expected size.
using BlobSink = std::function<void(const void* data, std::size_t size)>;
// Reads up to cap bytes of a blob at offset into buf; returns the count (0 only at the end).
using BlobReader = std::function<std::size_t(std::uint64_t offset, void* buf, std::size_t cap)>;
// Transfer progress of one blob: bytes done so far of total.
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// What a pull or a push asks the registry for; a token covers the union of what was asked.
enum class Access { Pull, PullPush };

struct ManifestResponse {
    std::string bytes;       // exactly as served: its sha256 is `digest`
    std::string media_type;  // Content-Type without parameters, checked against the body's mediaType
    Digest digest;
};

inline constexpr std::uint64_t kMonolithicUploadLimit = 64ull << 20;
inline constexpr std::uint64_t kUploadChunkSize = 64ull << 20;
// A blob made while it uploads goes out in smaller chunks: each is sent as soon as it is
// made, so less of the making waits before the first byte leaves.
inline constexpr std::uint64_t kStreamChunkSize = 16ull << 20;

// A blob whose bytes are still being made while it uploads (a layer compressed on the way):
// its digest is known only at the end.
struct GrowingBlob {
    std::string name;  // for messages: what the blob is made from (a layer's diffID)
    // Blocks until `want` bytes past offset exist or the blob is complete; returns how many
    // there are from offset, at most want (0: offset is the end). Throws when making failed.
    std::function<std::uint64_t(std::uint64_t offset, std::uint64_t want)> wait;
    BlobReader read;  // bytes below what wait() reported, at any offset
    // Called once wait() has reported the end: the blob's digest and size.
    std::function<std::pair<Digest, std::uint64_t>()> complete;
};

// The media types a pull accepts, in the Accept header's order.
extern const std::vector<std::string> kManifestMediaTypes;

// One repository on one registry, with its credentials and tokens. Every method is safe to
// call from several threads at once (parallel blob transfers share one Repository). Every
// failure throws kiln::Error with one line naming the registry host and the object
// ("registry 127.0.0.1:5000: blob sha256:…: 500 Internal Server Error after 4 attempts").
// Transient failures (connection refused/reset, 5xx, 429 with Retry-After, stalled bodies)
// are retried with backoff before that.
class Repository {
public:
    // ref gives the registry (domain, mapped to its API host and to the mirrors for docker.io)
    // and the repository path; its tag and digest are ignored.
    Repository(Session& session, const image::Reference& ref, Access access);
    ~Repository();
    Repository(const Repository&) = delete;
    Repository& operator=(const Repository&) = delete;

    // The registry as the user named it ("docker.io", "localhost:5000") and the repository path.
    const std::string& domain() const;
    const std::string& path() const;

    // GET of a manifest or index by tag or digest ("sha256:…"). Checks the body against a
    // requested digest, its mediaType against Content-Type, and a size limit (4 MiB).
    ManifestResponse get_manifest(const std::string& reference);
    // HEAD of a manifest: its digest (Docker-Content-Digest), or nullopt when it does not exist.
    std::optional<Digest> head_manifest(const std::string& reference);
    // PUT of a manifest under a tag or digest with its media type; returns the digest of bytes.
    Digest put_manifest(const std::string& reference, const std::string& media_type, const std::string& bytes);

    // HEAD of a blob: its size, or nullopt when the registry does not have it.
    std::optional<std::uint64_t> head_blob(const Digest& digest);
    // Streams a blob into sink, resuming with Range after a dropped connection, and checks
    // size and digest while it streams. Throws (after sink saw some bytes) on a mismatch:
    // the caller discards what it received. Redirects are followed for blobs only, and never
    // with credentials to another host.
    // A registry that ignores Range (200 instead of 206) restarts the blob from byte 0: then
    // `restart` is called first and the caller drops everything its sink got so far (the
    // digest is checked over the bytes after the restart). Without `restart` that is an error.
    void get_blob(const Digest& digest, std::uint64_t size, const BlobSink& sink, const Progress& progress = {},
                  const std::function<void()>& restart = {});
    // Cross-repository mount from another repository of the same registry: true when the
    // registry mounted it; false when it did not (nothing left open on the registry).
    bool mount_blob(const Digest& digest, const std::string& from_path);
    // Uploads a blob: one PUT for blobs up to kMonolithicUploadLimit, chunked PATCH (chunks of
    // kUploadChunkSize) for larger ones; a dropped connection resumes from the offset the
    // registry reports (a registry that lost the upload gets a new one).
    void upload_blob(const Digest& digest, std::uint64_t size, const BlobReader& reader, const Progress& progress = {});
    // Uploads a blob while it is being made: POST, a PATCH of each kStreamChunkSize as soon
    // as it exists (resumed like upload_blob's), then PUT ?digest= with the digest the
    // complete blob has. Returns that digest and the size. progress sees total 0 until the end.
    std::pair<Digest, std::uint64_t> upload_growing_blob(const GrowingBlob& blob, const Progress& progress = {});

    // Every tag (following Link pagination).
    std::vector<std::string> tags();

private:
    struct State;
    std::unique_ptr<State> state_;
};

// The repositories of a registry's /v2/_catalog (following pagination), at most limit.
std::vector<std::string> catalog(Session& session, const std::string& domain, std::size_t limit);

}  // namespace kiln::registry
