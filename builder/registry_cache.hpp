#pragma once
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>

#include "builder/build.hpp"

namespace kiln::registry {
class Session;
}

namespace kiln::builder {

// --cache-from / --cache-to as BuildKit spells them: "type=registry,ref=HOST/REPO:TAG[,mode=min|max]
// [,ignore-error=true]", or a bare reference (docker's legacy --cache-from IMAGE).
struct CacheSpec {
    std::string ref;           // normalised reference of the cache artifact
    bool max = false;          // mode=max: every stage's steps, not only the target's
    bool ignore_error = false;  // a failed export is a warning, not a failed build
};
CacheSpec parse_cache_spec(const std::string& text, const std::string& flag);

// The cache artifact at spec.ref, read once. A cache that does not exist yet is a warning on
// `warnings` and an empty source, as with BuildKit; a malformed one is an error.
std::shared_ptr<CacheSource> open_registry_cache(registry::Session& session, const CacheSpec& spec,
                                                 std::ostream& warnings);

struct CacheExport {
    Digest manifest;
    std::size_t steps = 0;
    std::size_t layers = 0;
    std::size_t uploaded = 0;  // layer blobs the registry did not have yet
};
// Writes the build's steps (the target stage's, or all with mode=max) and the layer blobs
// their configs name to spec.ref.
CacheExport export_registry_cache(registry::Session& session, image::Store& store, const CacheSpec& spec,
                                  const BuildResult& result);

}  // namespace kiln::builder
