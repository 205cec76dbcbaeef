#pragma once
// docker's image filters (`images --filter`, `image prune --filter`) as plain values, so what
// they select is decided, and tested, apart from the store.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {

// What a filter looks at in one image.
struct ImageFacts {
    Digest id;
    std::vector<std::string> names;  // full normalized references; empty when dangling
    std::int64_t created = 0;
    std::map<std::string, std::string> labels;
    bool used_by_container = false;  // a container (running or not) was created from it
};

struct LabelFilter {
    std::string key;
    std::optional<std::string> value;  // "label=k" only asks for the key
    bool negated = false;              // "label!=k[=v]" (prune)
};

struct ImageFilters {
    std::optional<bool> dangling;
    std::vector<std::string> references;  // globs on the familiar name, any of them may match
    std::vector<LabelFilter> labels;      // all of them must match
    std::vector<std::string> before, since;  // image names, resolved by the caller…
    std::optional<std::int64_t> created_before, created_after;  // …into these bounds
    std::optional<std::int64_t> until;   // created strictly before (prune's until=)

    bool wants_labels() const { return !labels.empty(); }
};

class Store;
struct ImageSummary;

// The facts of a stored image; its labels (read from its config) only when with_labels.
ImageFacts image_facts(Store& store, const ImageSummary& image, bool with_labels);

// Parses "key=value" filter arguments; allowed: the filter names the command accepts
// (e.g. {"dangling", "reference", "label", "before", "since"}). now: for until=<duration>.
// Throws kiln::Error with docker's messages ("invalid filter 'x'", "invalid argument …").
ImageFilters parse_image_filters(const std::vector<std::string>& args, const std::vector<std::string>& allowed,
                                 std::int64_t now);

// The names of image to list under the filters, or nullopt to leave the image out. With a
// reference filter only the matching names are kept, as docker lists only matching tags.
std::optional<std::vector<std::string>> select_names(const ImageFilters& filters, const ImageFacts& image);

// Docker's reference filter: path.Match of pattern against the familiar name with its tag
// ("busybox:latest"), or without it when the pattern has none ("busy*" matches busybox).
bool reference_matches(const std::string& pattern, const std::string& full_name);

// `image prune`: dangling images (with all_unused, every image) that no container uses and
// that pass the filters, newest first as given.
std::vector<Digest> select_prune(const std::vector<ImageFacts>& images, bool all_unused, const ImageFilters& filters);

// until=<Go duration back from now | RFC 3339 | unix seconds> as a unix time.
std::optional<std::int64_t> parse_until(const std::string& text, std::int64_t now);

}  // namespace kiln::image
