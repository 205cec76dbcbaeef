#pragma once
// The manifests a pull received, kept as the registry served them. kiln writes its own OCI
// manifest for an image it built, but a pulled image (Docker schema 2, or an OCI manifest
// another tool serialized its own way) would get a new manifest digest if re-serialized:
// docker keeps the digest when it pushes the same compressed blobs again, and so does kiln
// by sending the original bytes.
#include <optional>
#include <string>

#include "image/archive_writer.hpp"
#include "util/digest.hpp"

namespace kiln::image {

class Store;

// Keeps bytes (a manifest whose config is image_id, served as media_type) in the content
// store and links it to the image. The image's row must exist (the link goes with it).
void record_pulled_manifest(Store& store, const Digest& image_id, const std::string& media_type,
                            const std::string& bytes);

// The newest pulled manifest of image_id that still describes the image exactly: its config
// is the image's config bytes, and its layers are, in order, blobs the store keeps for the
// image's layers (same digest and size, recorded for that layer's diffID). Its manifest_json
// is the pulled bytes; manifest.media_type the type it was served as. nullopt when there is
// none (a built image, or blobs that were removed).
std::optional<ManifestPlan> plan_pulled_manifest(Store& store, const Digest& image_id);

}  // namespace kiln::image
