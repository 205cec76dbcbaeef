#include "image/image_filter.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "image/image_store.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/human_units.hpp"

namespace kiln::image {

std::optional<std::int64_t> parse_until(const std::string& text, std::int64_t now) {
    if (auto seconds = parse_go_duration(text)) return now - *seconds;
    if (auto t = parse_rfc3339(text)) return *t;
    if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return std::stoll(text);
    return std::nullopt;
}

ImageFacts image_facts(Store& store, const ImageSummary& image, bool with_labels) {
    ImageFacts facts{image.id, image.names, image.created, {}};
    facts.used_by_container = store.db().image_has_containers(image.id.str());
    if (!with_labels) return facts;
    auto config = nlohmann::json::parse(store.images().config(image.id));
    const auto& labels = config.value("/config/Labels"_json_pointer, nlohmann::json::object());
    if (labels.is_object())
        for (auto it = labels.begin(); it != labels.end(); ++it)
            if (it->is_string()) facts.labels[it.key()] = it->get<std::string>();
    return facts;
}

ImageFilters parse_image_filters(const std::vector<std::string>& args, const std::vector<std::string>& allowed,
                                 std::int64_t now) {
    ImageFilters filters;
    for (const auto& arg : args) {
        auto eq = arg.find('=');
        if (eq == std::string::npos || eq == 0) throw Error("bad format of filter (expected name=value)");
        std::string name = arg.substr(0, eq);
        std::string value = arg.substr(eq + 1);
        bool negated = name.ends_with('!');
        if (negated) name.pop_back();
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end() || (negated && name != "label"))
            throw Error("invalid filter '" + name + "'");
        if (name == "dangling") {
            std::string lower = value;
            for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (lower == "true" || lower == "1")
                filters.dangling = true;
            else if (lower == "false" || lower == "0")
                filters.dangling = false;
            else
                throw Error("invalid filter 'dangling=" + value + "'");
        } else if (name == "reference") {
            filters.references.push_back(value);
        } else if (name == "label") {
            LabelFilter label;
            auto inner = value.find('=');
            label.key = value.substr(0, inner);
            if (inner != std::string::npos) label.value = value.substr(inner + 1);
            label.negated = negated;
            filters.labels.push_back(std::move(label));
        } else if (name == "before") {
            filters.before.push_back(value);
        } else if (name == "since") {
            filters.since.push_back(value);
        } else if (name == "until") {
            auto t = parse_until(value, now);
            if (!t) throw Error("invalid argument \"" + value + "\" for \"until\" filter: not a duration or timestamp");
            filters.until = t;
        }
    }
    return filters;
}

bool reference_matches(const std::string& pattern, const std::string& full_name) {
    auto ref = try_parse_reference(full_name);
    if (!ref) return false;
    // FNM_PATHNAME: like Go's path.Match, '*' and '?' stop at '/'.
    if (::fnmatch(pattern.c_str(), ref->familiar().c_str(), FNM_PATHNAME) == 0) return true;
    return ::fnmatch(pattern.c_str(), ref->familiar_repository().c_str(), FNM_PATHNAME) == 0;
}

namespace {

bool labels_match(const std::vector<LabelFilter>& filters, const std::map<std::string, std::string>& labels) {
    for (const auto& f : filters) {
        auto it = labels.find(f.key);
        bool hit = it != labels.end() && (!f.value || it->second == *f.value);
        if (hit == f.negated) return false;
    }
    return true;
}

}  // namespace

std::optional<std::vector<std::string>> select_names(const ImageFilters& filters, const ImageFacts& image) {
    if (filters.dangling && *filters.dangling != image.names.empty()) return std::nullopt;
    if (!labels_match(filters.labels, image.labels)) return std::nullopt;
    if (filters.created_before && image.created >= *filters.created_before) return std::nullopt;
    if (filters.created_after && image.created <= *filters.created_after) return std::nullopt;
    if (filters.until && image.created >= *filters.until) return std::nullopt;
    if (filters.references.empty()) return image.names;
    std::vector<std::string> kept;
    for (const auto& name : image.names)
        if (std::any_of(filters.references.begin(), filters.references.end(),
                        [&](const std::string& pattern) { return reference_matches(pattern, name); }))
            kept.push_back(name);
    if (kept.empty()) return std::nullopt;
    return kept;
}

std::vector<Digest> select_prune(const std::vector<ImageFacts>& images, bool all_unused, const ImageFilters& filters) {
    std::vector<Digest> out;
    for (const auto& image : images) {
        if (image.used_by_container || (!all_unused && !image.names.empty())) continue;
        if (select_names(filters, image)) out.push_back(image.id);
    }
    return out;
}

}  // namespace kiln::image
