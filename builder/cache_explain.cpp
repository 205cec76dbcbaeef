#include "builder/cache_explain.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "image/metadata_db.hpp"

namespace kiln::builder {

namespace {

constexpr std::string_view kInputsSuffix = "/inputs";
constexpr std::size_t kMaxNamedChanges = 3;

std::string short_digest(const std::string& text) {
    if (!Digest::valid(text)) return text.size() > 40 ? text.substr(0, 37) + "..." : text;
    return text.substr(0, 7 + 12);  // "sha256:" and 12 hex digits, as docker shortens IDs
}

std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return text;
}

std::optional<Digest> digest_field(const nlohmann::json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string() || !Digest::valid(it->get<std::string>())) throw std::invalid_argument(name);
    return Digest::parse(it->get<std::string>());
}

// "a, b and 2 more": the first few names of a list that may be long.
std::string name_some(const std::vector<std::string>& parts) {
    std::string out;
    for (std::size_t i = 0; i < parts.size() && i < kMaxNamedChanges; ++i) out += (i ? ", " : "") + parts[i];
    if (parts.size() > kMaxNamedChanges) out += fmt::format(" and {} more", parts.size() - kMaxNamedChanges);
    return out;
}

std::string describe_args(const StepInputs& now, const StepInputs& then) {
    std::vector<std::string> changes;
    for (const auto& [name, value] : now.arg_digests) {
        auto it = then.arg_digests.find(name);
        if (it == then.arg_digests.end())
            changes.push_back(name + " is new");
        else if (it->second != value)
            changes.push_back(name + " changed");
    }
    for (const auto& [name, value] : then.arg_digests)
        if (!now.arg_digests.count(name)) changes.push_back(name + " is gone");
    return changes.empty() ? "" : "build arg " + name_some(changes);
}

std::string describe_sources(const StepInputs& now, const StepInputs& then) {
    if (!now.listing_complete || !then.listing_complete)
        return "the files it copies changed (too many to list)";
    std::map<std::string, const SourceEntry*> before;
    for (const auto& entry : then.listing) before.emplace(entry.path, &entry);
    std::vector<std::string> changes;
    for (const auto& entry : now.listing) {
        auto it = before.find(entry.path);
        if (it == before.end()) {
            changes.push_back("source " + entry.path + " added");
            continue;
        }
        const SourceEntry& old = *it->second;
        before.erase(it);
        if (old.meta != entry.meta)
            changes.push_back("source " + entry.path + " changed type or mode");
        else if (old.content != entry.content)
            changes.push_back("source " + entry.path + " changed (" + short_digest(old.content) + " -> " +
                              short_digest(entry.content) + ")");
    }
    for (const auto& [path, entry] : before) changes.push_back("source " + path + " removed");
    if (changes.empty()) return now.listing.empty() ? "the --from stage or image it copies from changed" : "";
    return name_some(changes);
}

// The image (or stage key) a FROM step's instruction names: the word after FROM; markers
// the builder appends to the key text come after it.
std::string base_named(const StepInputs& from) {
    std::string rest = from.instruction.substr(5);
    return short_digest(rest.substr(0, rest.find(' ')));
}

const StepInputs* newest(const std::vector<const StepInputs*>& rows) {
    const StepInputs* best = nullptr;
    for (const auto* row : rows)
        if (!best || row->created > best->created) best = row;
    return best;
}

}  // namespace

StepInputs StepInputs::make(const Digest& key, const std::optional<Digest>& parent, const std::string& instruction,
                            const std::map<std::string, std::string>& build_args, const std::optional<Digest>& sources,
                            std::vector<SourceEntry> listing) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    StepInputs inputs{key,  parent, instruction, {}, sources, std::move(listing), true,
                      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()};
    for (const auto& [name, value] : build_args) inputs.arg_digests[name] = sha256_of(value).str();
    if (inputs.listing.size() > kMaxListedSources) {
        inputs.listing.clear();
        inputs.listing_complete = false;
    }
    return inputs;
}

std::string StepInputs::serialize() const {
    nlohmann::json listed = nlohmann::json::array();
    for (const auto& entry : listing) listed.push_back({entry.path, entry.meta, entry.content});
    nlohmann::json j = {{"key", key.str()},
                        {"parent", parent ? nlohmann::json(parent->str()) : nlohmann::json()},
                        {"instruction", instruction},
                        {"args", arg_digests},
                        {"sources", sources ? nlohmann::json(sources->str()) : nlohmann::json()},
                        {"listing", std::move(listed)},
                        {"listing_complete", listing_complete},
                        {"created", created}};
    return j.dump();
}

std::optional<StepInputs> StepInputs::parse(const std::string& text) {
    try {
        auto j = nlohmann::json::parse(text);
        StepInputs inputs;
        auto key = digest_field(j, "key");
        if (!key) return std::nullopt;
        inputs.key = *key;
        inputs.parent = digest_field(j, "parent");
        inputs.instruction = j.at("instruction").get<std::string>();
        inputs.arg_digests = j.at("args").get<std::map<std::string, std::string>>();
        inputs.sources = digest_field(j, "sources");
        for (const auto& entry : j.at("listing"))
            inputs.listing.push_back({entry.at(0).get<std::string>(), entry.at(1).get<std::string>(),
                                      entry.at(2).get<std::string>()});
        inputs.listing_complete = j.at("listing_complete").get<bool>();
        inputs.created = j.at("created").get<std::int64_t>();
        return inputs;
    } catch (const std::exception&) {
        return std::nullopt;  // a row from another version, or damaged: it explains nothing
    }
}

void remember_inputs(image::MetadataDb& db, const StepInputs& inputs) {
    db.cache_put(inputs.key.str() + std::string(kInputsSuffix), inputs.serialize(), "inputs");
}

std::vector<StepInputs> remembered_inputs(image::MetadataDb& db) {
    std::vector<StepInputs> out;
    for (const auto& entry : db.cache_list())
        if (entry.kind == "inputs")
            if (auto inputs = StepInputs::parse(entry.result)) out.push_back(std::move(*inputs));
    return out;
}

std::string explain_miss(const StepInputs& missed, const std::vector<StepInputs>& earlier, bool previous_missed) {
    std::vector<const StepInputs*> same_parent, same_instruction;
    std::map<Digest, const StepInputs*> by_key;
    for (const auto& row : earlier) {
        by_key.emplace(row.key, &row);
        if (row.key == missed.key) continue;
        if (row.parent == missed.parent) same_parent.push_back(&row);
        if (row.instruction == missed.instruction) same_instruction.push_back(&row);
    }
    std::vector<const StepInputs*> same_step;
    for (const auto* row : same_parent)
        if (row->instruction == missed.instruction) same_step.push_back(row);
    if (const auto* then = newest(same_step)) {
        std::vector<std::string> reasons;
        if (auto args = describe_args(missed, *then); !args.empty()) reasons.push_back(args);
        if (missed.sources != then->sources)
            if (auto sources = describe_sources(missed, *then); !sources.empty()) reasons.push_back(sources);
        if (reasons.empty()) return "its cached result is gone from the store (pruned?)";
        std::string out;
        for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
        return out;
    }
    if (const auto* then = newest(same_parent)) return "the instruction changed (was: " + one_line(then->instruction) + ")";
    if (previous_missed) return "the step before it was rebuilt";
    // The first step of a stage stands on FROM: the same step on another base is a new base.
    // The FROM a step stands on, through the ARGs between them (they have no layer).
    auto from_of = [&](std::optional<Digest> parent) -> const StepInputs* {
        for (int hops = 0; parent && hops < 256; ++hops) {
            auto it = by_key.find(*parent);
            if (it == by_key.end()) return nullptr;
            if (it->second->instruction.starts_with("FROM ")) return it->second;
            if (!it->second->instruction.starts_with("ARG")) return nullptr;
            parent = it->second->parent;
        }
        return nullptr;
    };
    if (const auto* from_now = from_of(missed.parent)) {
        std::vector<const StepInputs*> on_other_base;
        for (const auto* row : same_instruction)
            if (from_of(row->parent)) on_other_base.push_back(row);
        if (const auto* then = newest(on_other_base))
            return "the image or stage it is built FROM changed (" + base_named(*from_of(then->parent)) + " -> " +
                   base_named(*from_now) + ")";
        return "no earlier build ran it on this base";
    }
    return "no earlier build ran it after the step before it";
}

}  // namespace kiln::builder
