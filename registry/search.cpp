#include "registry/search.hpp"

#include <nlohmann/json.hpp>

#include "registry/client.hpp"
#include "registry/session_state.hpp"
#include "registry/transport.hpp"

namespace kiln::registry {

namespace {

// How many catalog names a search reads at most before it filters them.
constexpr std::size_t kCatalogScanLimit = 100000;

std::optional<std::vector<SearchResult>> search_index(Session& session, const std::string& domain,
                                                      const std::string& term, std::size_t limit) {
    auto endpoints = session.state().endpoints(domain, true);
    Transport t(session.state(), std::move(endpoints.back()), {});
    std::string url = t.url("/v1/search?q=" + http::query_escape(term) + "&n=" + std::to_string(limit));
    http::Response r = t.send(bare_request("GET", url), "search");
    if (r.status != 200) return std::nullopt;  // no v1 search here: the catalog it is
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("results") || !doc["results"].is_array()) return std::nullopt;
    std::vector<SearchResult> out;
    for (const auto& item : doc["results"]) {
        if (!item.is_object() || !item.value("name", nlohmann::json()).is_string()) continue;
        SearchResult s;
        s.name = item["name"].get<std::string>();
        if (auto d = item.find("description"); d != item.end() && d->is_string()) s.description = *d;
        if (auto n = item.find("star_count"); n != item.end() && n->is_number_integer()) s.stars = n->get<long>();
        if (auto o = item.find("is_official"); o != item.end() && o->is_boolean()) s.official = o->get<bool>();
        if (auto a = item.find("is_automated"); a != item.end() && a->is_boolean()) s.automated = a->get<bool>();
        out.push_back(std::move(s));
        if (out.size() >= limit) break;
    }
    return out;
}

}  // namespace

std::pair<std::string, std::string> split_search_term(const std::string& term) {
    auto slash = term.find('/');
    if (slash != std::string::npos) {
        std::string host = term.substr(0, slash);
        if (host.find_first_of(".:") != std::string::npos || host == "localhost") {
            if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
            return {host, term.substr(slash + 1)};
        }
    }
    return {"docker.io", term};
}

std::vector<SearchResult> search(Session& session, const std::string& domain, const std::string& term,
                                 std::size_t limit) {
    if (auto found = search_index(session, domain, term, limit)) return *found;
    std::vector<SearchResult> out;
    for (const auto& name : catalog(session, domain, kCatalogScanLimit)) {
        if (name.find(term) == std::string::npos) continue;
        SearchResult s;
        s.name = domain + "/" + name;
        out.push_back(std::move(s));
        if (out.size() >= limit) break;
    }
    return out;
}

}  // namespace kiln::registry
