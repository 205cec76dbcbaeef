#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "registry/session.hpp"

namespace kiln::registry {

struct SearchResult {
    std::string name;
    std::string description;     // empty where the registry says nothing
    std::optional<long> stars;   // nullopt where the registry has no such data
    std::optional<bool> official;
    std::optional<bool> automated;
};

// `kiln search` TERM → (registry domain, term): "reg.example:5000/app" picks that registry
// (the part before the first '/' when it looks like a host: a '.', a ':' or "localhost"),
// anything else searches docker.io.
std::pair<std::string, std::string> split_search_term(const std::string& term);

// Repositories of a registry matching term: its /v1/search when it offers one, else the
// names in /v2/_catalog that contain term (as "DOMAIN/NAME", ready to pull). At most limit.
std::vector<SearchResult> search(Session& session, const std::string& domain, const std::string& term,
                                 std::size_t limit);

}  // namespace kiln::registry
