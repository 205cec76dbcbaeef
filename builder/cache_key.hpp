#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::builder {

// Everything that decides a step's result. Same inputs ⇒ same key, on any machine: no
// mtimes, no host paths, no time of day.
struct CacheKeyInput {
    std::optional<Digest> parent;                  // previous step's key (none for FROM)
    std::string instruction;                       // after variable expansion, canonical form
    std::map<std::string, std::string> build_args; // the ARGs this step can see
    std::string platform;                          // "linux/amd64"
    std::optional<Digest> sources;                 // COPY/ADD: digest of the selected sources
};

Digest cache_key(const CacheKeyInput& input);

}  // namespace kiln::builder
