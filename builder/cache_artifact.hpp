#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/oci.hpp"
#include "util/digest.hpp"

namespace kiln::builder {

// The build cache as it travels through a registry (--cache-to/--cache-from type=registry):
// an OCI image manifest whose config blob lists steps (cache key → the image config the
// step produced) and whose layers are the layer blobs those configs name, each annotated
// with its diffID. A machine that imports it resolves cached steps from the config alone
// and downloads a layer only when a step it must run, or the final image, stands on it.

inline constexpr std::string_view kCacheArtifactType = "application/vnd.kiln.build-cache.v1";
inline constexpr std::string_view kCacheConfigMediaType = "application/vnd.kiln.build-cache.config.v1+json";
inline constexpr std::string_view kDiffIdAnnotation = "org.kiln.diff-id";

struct CachedStep {
    Digest key;
    std::string config;  // the step's image config, serialised exactly as the builder keeps it
    bool cmd_inherited = false;
};

struct CacheLayer {
    image::Descriptor blob;  // compressed layer blob in the registry
    Digest diff_id;
};

struct CacheArtifact {
    std::vector<CachedStep> steps;
    std::vector<CacheLayer> layers;

    // The config blob's bytes and the manifest that names it and the layers.
    std::string config_json() const;
    std::string manifest_json(const Digest& config_digest, std::uint64_t config_size) const;
};

// Largest cache config blob an import reads: a registry is an untrusted peer.
inline constexpr std::uint64_t kMaxCacheConfigSize = 16ull << 20;

// Parses a cache manifest and its config blob, checking every field. Steps whose layers the
// manifest does not carry are dropped (they cannot be restored). Throws kiln::Error naming
// what is wrong.
struct ParsedCacheManifest {
    image::Descriptor config;
    std::vector<CacheLayer> layers;
};
ParsedCacheManifest parse_cache_manifest(std::string_view manifest);
std::vector<CachedStep> parse_cache_config(std::string_view config, const std::vector<CacheLayer>& layers);

// The diffIDs an image config names, in order (its rootfs.diff_ids).
std::vector<Digest> config_diff_ids(std::string_view config);

}  // namespace kiln::builder
