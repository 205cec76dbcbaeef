#pragma once
// `kiln pull`: an image from a registry into the store, docker's way. The manifest (by tag or
// digest; an index or manifest list resolved by platform), the config, then the missing layers
// in parallel, each unpacked while it downloads. Everything is verified before anything is
// published, so a failed pull leaves the store as it was.
#include <cstddef>
#include <optional>
#include <string>

#include "image/oci.hpp"
#include "image/reference.hpp"
#include "registry/pull_progress.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::registry {

class Repository;
class Session;

// Docker's default number of parallel layer downloads.
inline constexpr std::size_t kDefaultConcurrentDownloads = 3;

struct PullOptions {
    std::optional<image::Platform> platform;  // --platform; default: this machine's
    // Layers downloaded at once; 0: KILN_MAX_CONCURRENT_DOWNLOADS, else kDefaultConcurrentDownloads.
    std::size_t max_concurrent_downloads = 0;
    PullListener listener;  // may be empty
};

struct PullResult {
    Digest image_id;
    Digest manifest_digest;   // what the reference resolved to (the index's when there is one)
    std::string repo_digest;  // "docker.io/library/busybox@sha256:…"
    std::string name;         // the full reference: "docker.io/library/busybox:latest" (or repo@digest)
    bool up_to_date = false;  // the name already named this image: nothing was downloaded
};

// Pulls ref (tag or digest). Records the image, its name (when ref has a tag and no digest)
// and its RepoDigest. Throws kiln::Error with one line naming the registry and what failed.
PullResult pull_image(Session& session, image::Store& store, const image::Reference& ref, const PullOptions& options);

// The same through an open repository (`pull -a` pulls every tag through one).
PullResult pull_image(Repository& repo, image::Store& store, const image::Reference& ref, const PullOptions& options);

// The parallel downloads to use: options, else KILN_MAX_CONCURRENT_DOWNLOADS (1..64), else 3.
std::size_t concurrent_downloads(const PullOptions& options);

}  // namespace kiln::registry
