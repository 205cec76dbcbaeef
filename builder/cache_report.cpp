#include "builder/cache_report.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "builder/cache_explain.hpp"
#include "builder/cache_mounts.hpp"
#include "image/layer_store.hpp"
#include "image/store.hpp"
#include "util/error.hpp"

namespace kiln::builder {

namespace {

constexpr std::string_view kLayerSuffix = "/layer";
constexpr std::string_view kInputsKind = "inputs";

// The --explain-cache rows that no longer explain anything: a step's once the step is gone,
// a FROM's or an ARG's (which have no cache entry) once no remaining step stands on it.
std::vector<std::string> stale_inputs_rows(image::MetadataDb& db) {
    std::set<std::string> steps;
    std::map<std::string, std::optional<StepInputs>> rows;  // row key → its inputs
    for (const auto& entry : db.cache_list()) {
        if (entry.kind == kInputsKind)
            rows.emplace(entry.key, StepInputs::parse(entry.result));
        else
            steps.insert(entry.key);
    }
    std::map<std::string, std::string> parent_of;  // step key → parent key
    std::set<std::string> kept;
    for (const auto& [row_key, inputs] : rows) {
        if (!inputs) continue;
        if (inputs->parent) parent_of[inputs->key.str()] = inputs->parent->str();
        if (steps.count(inputs->key.str())) kept.insert(inputs->key.str());
    }
    std::vector<std::string> todo(kept.begin(), kept.end());
    while (!todo.empty()) {
        auto it = parent_of.find(todo.back());
        todo.pop_back();
        if (it != parent_of.end() && kept.insert(it->second).second) todo.push_back(it->second);
    }
    std::vector<std::string> stale;
    for (const auto& [row_key, inputs] : rows)
        if (!inputs || !kept.count(inputs->key.str())) stale.push_back(row_key);
    return stale;
}

// The config digest at the front of a "config" entry's value (the builder may append markers).
std::optional<Digest> config_digest(const std::string& value) {
    std::string digest = value.substr(0, value.find(' '));
    if (!Digest::valid(digest)) return std::nullopt;
    return Digest::parse(digest);
}

std::optional<Digest> top_chain_of(const nlohmann::json& config) {
    std::optional<Digest> top;
    const auto& ids = config.value("/rootfs/diff_ids"_json_pointer, nlohmann::json::array());
    if (!ids.is_array()) return top;
    for (const auto& id : ids)
        if (id.is_string() && Digest::valid(id.get<std::string>()))
            top = image::chain_id(top, Digest::parse(id.get<std::string>()));
    return top;
}

// A chain and all its ancestors.
void add_stack(image::MetadataDb& db, const Digest& top, std::set<Digest>& into) {
    for (const auto& row : db.layer_chain(top)) into.insert(row.chain_id);
}


}  // namespace

std::string CacheRecord::short_id() const {
    std::string hex = key.starts_with("sha256:") ? key.substr(7) : key;
    return hex.substr(0, 12);
}

std::vector<CacheRecord> group_cache_entries(const std::vector<image::CacheEntry>& entries) {
    // Records keep the order their first row came in (the database lists newest first).
    std::vector<CacheRecord> out;
    std::map<std::string, std::size_t> index_of;
    for (const auto& entry : entries) {
        if (entry.kind == kInputsKind) continue;  // bookkeeping for --explain-cache, not a result
        bool layer_entry = entry.key.ends_with(kLayerSuffix);
        std::string key = layer_entry ? entry.key.substr(0, entry.key.size() - kLayerSuffix.size()) : entry.key;
        auto [it, fresh] = index_of.try_emplace(key, out.size());
        if (fresh) {
            out.emplace_back();
            out.back().key = key;
            out.back().created = entry.created;
        }
        CacheRecord& record = out[it->second];
        record.created = std::min(record.created, entry.created);
        record.last_used = std::max(record.last_used, entry.last_used);
        // Both rows of a step are looked up on every hit; one of them counts it.
        record.hits = std::max(record.hits, entry.hits);
        if (record.step.empty()) record.step = entry.step;
        if (entry.kind == "layer" && Digest::valid(entry.result)) {
            record.layer = Digest::parse(entry.result);
            record.top_chain = record.layer;
        } else if (!layer_entry) {
            record.config = config_digest(entry.result);
        }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const CacheRecord& a, const CacheRecord& b) { return a.last_used > b.last_used; });
    return out;
}

void mark_usage(std::vector<CacheRecord>& records, const std::set<Digest>& protected_chains,
                const std::set<Digest>& image_chains) {
    for (auto& record : records) {
        record.in_use = record.top_chain && protected_chains.count(*record.top_chain);
        record.used_by_image = record.top_chain && image_chains.count(*record.top_chain);
    }
}

std::vector<std::size_t> select_cache_prune(const std::vector<CacheRecord>& records, const CachePrunePolicy& policy) {
    std::vector<std::size_t> candidates;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        total += r.size;
        if (r.in_use || (!policy.all && r.used_by_image)) continue;
        if (policy.unused_since && r.last_used >= *policy.unused_since) continue;
        candidates.push_back(i);
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](std::size_t a, std::size_t b) { return records[a].last_used < records[b].last_used; });
    if (!policy.keep_storage) return candidates;
    std::vector<std::size_t> chosen;
    for (auto i : candidates) {
        if (total <= *policy.keep_storage) break;
        total -= records[i].size;
        chosen.push_back(i);
    }
    return chosen;
}

std::vector<CacheRecord> cache_records(image::Store& store) {
    auto& db = store.db();
    auto records = group_cache_entries(db.cache_list());
    for (auto& record : records) {
        if (record.layer) {
            if (auto row = db.get_layer(*record.layer)) record.size = row->size;
        } else if (record.config && store.content().has(*record.config)) {
            try {
                record.top_chain = top_chain_of(nlohmann::json::parse(store.content().read(*record.config)));
            } catch (const std::exception&) {
                // An unreadable config only loses the record its usage: it stays prunable.
            }
        }
    }
    std::set<Digest> protected_chains, image_chains;
    for (const auto& img : db.list_images()) {
        if (!img.top_chain_id) continue;
        add_stack(db, *img.top_chain_id, image_chains);
        if (!db.refs_for(img.id).empty()) add_stack(db, *img.top_chain_id, protected_chains);
    }
    for (const auto& chain : db.leased_chains()) add_stack(db, chain, protected_chains);
    mark_usage(records, protected_chains, image_chains);
    for (const auto& mount : list_cache_mounts(store.root())) {
        CacheRecord record;
        record.key = mount.key;
        record.step = "cached mount id=" + mount.id;
        record.size = mount.size;
        record.created = mount.created;
        record.last_used = mount.last_used;
        record.in_use = mount.in_use;
        record.cache_mount = true;
        records.push_back(std::move(record));
    }
    return records;
}

CachePruneResult prune_cache(image::Store& store, const CachePrunePolicy& policy) {
    auto& db = store.db();
    auto records = cache_records(store);
    CachePruneResult result;
    for (auto i : select_cache_prune(records, policy)) result.removed.push_back(records[i]);
    // A cache mount a build took since it was listed stays (remove_cache_mount refuses it).
    std::erase_if(result.removed, [&](const CacheRecord& r) {
        if (!r.cache_mount) return false;
        if (!remove_cache_mount(store.root(), r.key)) return true;
        result.reclaimed += r.size;
        return false;
    });
    if (result.removed.empty()) return result;

    db.in_transaction([&] {
        for (const auto& r : result.removed) {
            db.cache_delete(r.key);
            db.cache_delete(r.key + std::string(kLayerSuffix));
        }
        for (const auto& row : stale_inputs_rows(db)) db.cache_delete(row);
    });
    // Rows first, files after: a crash in between leaves only files nothing points at.
    std::map<Digest, std::uint64_t> layer_sizes;
    for (const auto& row : db.list_layers()) layer_sizes[row.chain_id] = row.size;
    for (const auto& r : result.removed)
        if (r.layer)
            for (const auto& chain : store.layers().release_chain(*r.layer)) result.reclaimed += layer_sizes[chain];

    std::set<Digest> still_named;  // configs another cache row or an image still points at
    for (const auto& entry : db.cache_list())
        if (auto d = config_digest(entry.result)) still_named.insert(*d);
    for (const auto& img : db.list_images()) still_named.insert(img.config_digest);
    for (const auto& r : result.removed) {
        if (!r.config || still_named.count(*r.config)) continue;
        auto size = store.content().size(*r.config);
        if (store.content().remove(*r.config)) result.reclaimed += size.value_or(0);
        still_named.insert(*r.config);  // two steps may have produced the same config
    }
    for (const auto& blob : db.orphan_layer_blobs()) {
        db.delete_blob(blob.digest);
        if (store.content().remove(blob.digest)) result.reclaimed += blob.size;
    }
    return result;
}

}  // namespace kiln::builder
