#include "runtime/container_names.hpp"

#include <array>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

// Words that read well in front of a name; kiln's own list.
constexpr std::array<std::string_view, 48> adjectives = {
    "amber",   "ancient", "bold",    "brave",   "bright",  "calm",    "clever",  "cosmic",
    "crisp",   "curious", "daring",  "deft",    "eager",   "earnest", "fierce",  "fluent",
    "frank",   "gentle",  "glad",    "golden",  "hardy",   "honest",  "humble",  "jolly",
    "keen",    "kind",    "lively",  "lucid",   "mellow",  "merry",   "modest",  "nimble",
    "noble",   "patient", "plucky",  "proud",   "quiet",   "rapid",   "serene",  "sharp",
    "silent",  "steady",  "sunny",   "swift",   "tidy",    "vivid",   "warm",    "witty"};

// Pioneers of ceramics, kilns and glass, plus a few of computing; kiln's own list.
constexpr std::array<std::string_view, 48> surnames = {
    "adams",     "albers",    "bacerra",   "bauer",    "binns",     "boettger", "cardew",   "coper",
    "daly",      "dehong",    "eckert",    "fulper",   "grotell",   "hamada",   "hopper",   "ishikawa",
    "kawai",     "kenzan",    "lamarr",    "leach",    "lovelace",  "martinez", "mcclure",  "meitner",
    "nampeyo",   "natzler",   "noether",   "ohr",      "perry",     "rie",      "ritchie",  "robineau",
    "rosanjin",  "shoji",     "soldner",   "staffel",  "takaezu",   "thompson", "tomimoto", "turing",
    "voulkos",   "wedgwood",  "wildenhain","woodman",  "yanagi",    "yixing",   "zeisel",   "zuse"};

bool name_char(char c, bool first) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || (!first && (c == '_' || c == '.' || c == '-'));
}

}  // namespace

std::string validate_container_name(std::string_view name) {
    std::string_view bare = name;
    if (bare.starts_with('/')) bare.remove_prefix(1);
    bool ok = bare.size() >= 2;
    for (std::size_t i = 0; ok && i < bare.size(); ++i) ok = name_char(bare[i], i == 0);
    if (!ok)
        throw Error("Invalid container name (" + std::string(name) +
                    "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    return std::string(bare);
}

std::string generated_container_name(std::uint64_t seed, int attempt) {
    std::string name(adjectives[seed % adjectives.size()]);
    name += '_';
    name += surnames[(seed / adjectives.size()) % surnames.size()];
    if (attempt > 2) name += std::to_string(attempt);
    return name;
}

}  // namespace kiln::runtime
