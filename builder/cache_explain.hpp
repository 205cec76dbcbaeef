#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {
class MetadataDb;
}

namespace kiln::builder {

// One entry a COPY writes, as its cache key saw it: where it lands, its type and mode, and
// its content (a file's digest, a link's target; empty for a directory).
struct SourceEntry {
    std::string path;
    std::string meta;
    std::string content;
    bool operator==(const SourceEntry&) const = default;
};

// What made one step's cache key, kept beside the cache entry so that a later miss can say
// which input changed (`kiln build --explain-cache`). Build-arg values are kept only as
// digests: the store learns that a value changed, never what it was.
struct StepInputs {
    Digest key;
    std::optional<Digest> parent;
    std::string instruction;
    std::map<std::string, std::string> arg_digests;  // name → sha256 of the value
    std::optional<Digest> sources;
    std::vector<SourceEntry> listing;  // context sources, in copy order; capped
    bool listing_complete = true;      // false when the cap cut it short
    std::int64_t created = 0;          // unix nanoseconds: the newest of equals explains

    static StepInputs make(const Digest& key, const std::optional<Digest>& parent, const std::string& instruction,
                           const std::map<std::string, std::string>& build_args, const std::optional<Digest>& sources,
                           std::vector<SourceEntry> listing);
    std::string serialize() const;
    static std::optional<StepInputs> parse(const std::string& text);  // nullopt for anything malformed
};

// Listings longer than this are not kept: the explanation then says only that sources changed.
constexpr std::size_t kMaxListedSources = 20000;

// The store's side: each step's inputs live in the build cache as a "<key>/inputs" row of
// kind "inputs", pruned with the step.
void remember_inputs(image::MetadataDb& db, const StepInputs& inputs);
std::vector<StepInputs> remembered_inputs(image::MetadataDb& db);

// Why `missed` found no cache entry, in one line, against the closest earlier step in
// `earlier`: same parent and instruction (a build arg or a source differs), same parent (the
// instruction changed), or the same instruction on another parent (the base image or the
// step before changed). previous_missed: whether the step before this one missed too.
std::string explain_miss(const StepInputs& missed, const std::vector<StepInputs>& earlier, bool previous_missed);

}  // namespace kiln::builder
