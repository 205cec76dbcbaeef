#pragma once
// What a pull decides from a registry's manifests before it downloads a layer: which entry of
// an index fits the platform, and whether a manifest is an image kiln can pull at all. Plain
// code over values: a registry is untrusted, so everything here is checked, not assumed.
#include <optional>
#include <string>
#include <vector>

#include "image/layer_tar.hpp"
#include "image/oci.hpp"

namespace kiln::registry {

// How well an index entry's platform serves `want`: nullopt when it cannot run there, else a
// rank (higher is better). As containerd's platform matcher: os and architecture must be equal
// (after normalizing x86_64/aarch64); an exact variant beats an older one the machine also
// runs (arm v7 runs v6 and v5, amd64 v3 runs v2 and v1), and arm64's variant defaults to v8.
// A wanted platform without a variant takes any variant.
std::optional<int> platform_rank(const image::Platform& have, const image::Platform& want);

// The index entry to pull for `want`: the best-ranked image manifest, the first one on ties.
// Entries without a platform, or that are not image manifests (attestations, "unknown/unknown"),
// are never chosen. nullopt when none fits.
std::optional<image::Descriptor> choose_manifest(const image::Index& index, const image::Platform& want);

// "linux/amd64, linux/arm64/v8": the platforms an index offers, for an error message.
std::string offered_platforms(const image::Index& index);

// A manifest as a pull uses it: an image of sha256 blobs in the layer types kiln unpacks.
struct PullableManifest {
    image::Manifest manifest;
    std::vector<image::Compression> compression;  // of each layer, from its media type
};

// Bounds on what a manifest may ask for.
inline constexpr std::size_t kMaxLayers = 1000;
inline constexpr std::uint64_t kMaxConfigSize = 16ull << 20;

// What kind of document a registry served: its Content-Type, or, when that says nothing
// (application/json, octet-stream, empty), the body's own mediaType and shape. Docker schema 1
// comes back as kDockerManifestV1Signed so the caller can refuse it by name.
std::string manifest_kind(const std::string& content_type, const std::string& body);

// Parses and checks an image manifest (Docker schema 2 or OCI): schemaVersion 2, a config of a
// container image config type, sha256 digests, sizes within bounds, every layer a tar (plain,
// gzip or zstd) without external URLs. Throws kiln::Error naming what is wrong (`what` names
// the manifest: "manifest sha256:…").
PullableManifest check_manifest(const std::string& body, const std::string& what);

// The compression a layer media type declares; throws kiln::Error for a type kiln does not pull.
image::Compression layer_compression(const std::string& media_type);

}  // namespace kiln::registry
