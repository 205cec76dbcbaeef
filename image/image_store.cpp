#include "image/image_store.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "image/content_store.hpp"
#include "image/layer_store.hpp"
#include "image/metadata_db.hpp"
#include "image/reference.hpp"
#include "util/error.hpp"

namespace kiln::image {

namespace {

constexpr const char* kConfigMediaType = "application/vnd.oci.image.config.v1+json";

bool lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// As docker prints a name in rmi output: "busybox:latest" for docker.io/library/busybox:latest.
std::string familiar(const std::string& name) {
    auto ref = try_parse_reference(name);
    return ref ? ref->familiar() : name;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(const std::string& text) {
    int Y, M, D, h, m, s, consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &s, &consumed) != 6 ||
        consumed != 19)
        return std::nullopt;
    std::size_t i = 19;
    if (i < text.size() && text[i] == '.') {
        ++i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    }
    long offset = 0;
    if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
        ++i;
    } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        int oh, om, n = 0;
        if (std::sscanf(text.c_str() + i + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5) return std::nullopt;
        offset = (text[i] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != text.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    return static_cast<std::int64_t>(::timegm(&tm)) - offset;
}

ImageStore::ImageStore(MetadataDb& db, ContentStore& content, LayerStore& layers)
    : db_(db), content_(content), layers_(layers) {}

Digest ImageStore::put_image(const std::string& config_json) {
    nlohmann::json cfg;
    try {
        cfg = nlohmann::json::parse(config_json);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("image config is not valid JSON: ") + e.what());
    }
    if (!cfg.is_object()) throw Error("image config must be a JSON object");
    std::optional<Digest> top;
    auto rootfs = cfg.find("rootfs");
    if (rootfs != cfg.end()) {
        auto ids = rootfs->find("diff_ids");
        if (ids != rootfs->end() && !ids->is_null()) {
            if (!ids->is_array()) throw Error("image config: rootfs.diff_ids must be an array");
            for (const auto& d : *ids) {
                if (!d.is_string() || !Digest::valid(d.get<std::string>()))
                    throw Error("image config: rootfs.diff_ids holds an invalid digest");
                top = chain_id(top, Digest::parse(d.get<std::string>()));
            }
        }
    }
    std::int64_t created = unix_now();
    auto c = cfg.find("created");
    if (c != cfg.end() && c->is_string())
        if (auto t = parse_rfc3339(c->get<std::string>())) created = *t;

    // The blob first: a row must only ever point at content that exists.
    Digest id = content_.put(config_json);
    db_.in_transaction([&] {
        std::uint64_t size = 0;
        if (top) {
            if (!db_.get_layer(*top))
                throw Error("image config names layers (chain " + top->str() +
                            ") that are not in the layer store");
            for (const auto& l : layers_.chain(*top)) size += l.size;
        }
        db_.put_blob(BlobRow{id, kConfigMediaType, config_json.size(), std::nullopt});
        db_.put_image(ImageRow{id, id, top, created, size});
    });
    return id;
}

void ImageStore::tag(const std::string& name, const Digest& image_id) {
    if (name.empty()) throw Error("tag: empty image name");
    db_.in_transaction([&] {
        if (!db_.get_image(image_id)) throw Error("tag: no such image: " + image_id.str());
        db_.set_ref(name, image_id);
    });
}

bool ImageStore::untag(const std::string& name) { return db_.delete_ref(name); }

std::optional<std::string> ImageStore::stored_name(const std::string& ref) const {
    if (db_.get_ref(ref)) return ref;
    // Docker tries a name before an id prefix: "cafe" may be both.
    if (auto parsed = try_parse_reference(ref)) {
        std::string full = parsed->str();
        if (db_.get_ref(full)) return full;
    }
    return std::nullopt;
}

std::optional<Digest> ImageStore::by_repo_digest(const std::string& ref) const {
    auto parsed = try_parse_reference(ref);
    if (!parsed || !parsed->digest) return std::nullopt;
    return db_.image_for_repo_digest(parsed->repository(), *parsed->digest);
}

std::optional<Digest> ImageStore::resolve(const std::string& ref_or_id) const {
    if (auto name = stored_name(ref_or_id)) return db_.get_ref(*name);
    if (auto id = by_repo_digest(ref_or_id)) {
        if (db_.get_image(*id)) return id;
    }
    std::string_view hex = ref_or_id;
    if (hex.starts_with("sha256:")) hex.remove_prefix(7);
    if (hex.size() < 4 || hex.size() > 64 || !lower_hex(hex)) return std::nullopt;
    if (hex.size() == 64) {
        Digest d = Digest::from_hex(hex);
        if (db_.get_image(d)) return d;
        return std::nullopt;
    }
    auto matches = db_.images_with_prefix(hex);
    if (matches.empty()) return std::nullopt;
    if (matches.size() > 1)
        throw Error("image id prefix '" + std::string(hex) + "' is ambiguous: it matches " +
                    std::to_string(matches.size()) + " images; give more characters");
    return matches.front();
}

std::optional<ImageSummary> ImageStore::get(const Digest& image_id) const {
    auto row = db_.get_image(image_id);
    if (!row) return std::nullopt;
    return ImageSummary{row->id, db_.refs_for(row->id), row->created, row->size, row->top_chain_id};
}

std::vector<ImageSummary> ImageStore::list() const {
    std::vector<ImageSummary> out;
    for (const auto& row : db_.list_images())
        out.push_back(ImageSummary{row.id, db_.refs_for(row.id), row.created, row.size, row.top_chain_id});
    return out;
}

std::string ImageStore::config(const Digest& image_id) const {
    auto row = db_.get_image(image_id);
    if (!row) throw Error("no such image: " + image_id.str());
    return content_.read(row->config_digest);
}

std::vector<std::string> ImageStore::remove(const std::string& ref, bool force) {
    auto id = resolve(ref);
    if (!id) throw Error("No such image: " + ref);
    std::vector<std::string> lines;
    std::optional<ImageRow> deleted;
    std::vector<ImageManifestRow> manifests;
    db_.in_transaction([&] {
        auto row = db_.get_image(*id);
        if (!row) throw Error("No such image: " + ref);
        auto names = db_.refs_for(*id);
        auto name = stored_name(ref);
        // A repository's digests go with its last tag of the image, as docker's do.
        auto untag_digests = [&](const std::string& repository) {
            for (const auto& d : db_.delete_repo_digests(*id, repository))
                lines.push_back("Untagged: " + familiar(repository + "@" + d.str()));
        };
        auto untag_all = [&] {
            for (const auto& n : db_.refs_for(*id)) {
                db_.delete_ref(n);
                lines.push_back("Untagged: " + familiar(n));
            }
            for (const auto& [repository, d] : db_.repo_digests_for(*id)) untag_digests(repository);
        };
        auto still_named = [&] { return !db_.refs_for(*id).empty() || !db_.repo_digests_for(*id).empty(); };
        if (name) {
            db_.delete_ref(*name);
            lines.push_back("Untagged: " + familiar(*name));
            const std::string repository = parse_reference(*name).repository();
            bool repository_tagged = false;
            for (const auto& n : db_.refs_for(*id))
                repository_tagged = repository_tagged || parse_reference(n).repository() == repository;
            if (!repository_tagged) untag_digests(repository);
            if (still_named()) return;  // other names keep the image
        } else if (by_repo_digest(ref)) {
            untag_digests(parse_reference(ref).repository());
            if (still_named()) return;
        } else {
            std::vector<std::string> repositories;
            for (const auto& n : names) repositories.push_back(parse_reference(n).repository());
            for (const auto& [repository, d] : db_.repo_digests_for(*id)) repositories.push_back(repository);
            std::sort(repositories.begin(), repositories.end());
            repositories.erase(std::unique(repositories.begin(), repositories.end()), repositories.end());
            if ((names.size() > 1 || repositories.size() > 1) && !force)
                throw Error("conflict: unable to delete " + id->short_hex() +
                            " (must be forced) - image is referenced in multiple repositories");
            untag_all();
        }
        // Docker's rule: an image a container was created from stays while the container
        // does. Forced, the names go and the image stays behind (dangling) for it.
        if (auto users = db_.containers_of_image(id->str()); !users.empty()) {
            if (!force)
                throw Error("conflict: unable to remove repository reference \"" + ref + "\" (must force) - container " +
                            users.front().substr(0, 12) + " is using its referenced image " + id->short_hex());
            untag_all();
            return;
        }
        manifests = db_.image_manifests_for(*id);
        db_.delete_image(*id);
        db_.delete_blob(row->config_digest);
        deleted = row;
        lines.push_back("Deleted: " + id->str());
    });
    if (!deleted) return lines;
    // Rows are gone first; files follow. A crash in between leaves only unreferenced files.
    content_.remove(deleted->config_digest);
    // A manifest names its config, so no other image shares one.
    for (const auto& m : manifests) content_.remove(m.digest);
    if (deleted->top_chain_id) {
        for (const auto& chain : layers_.release_chain(*deleted->top_chain_id))
            lines.push_back("Deleted: " + chain.str());
        // Compressed blobs of layers that are gone can never be pushed or saved again.
        for (const auto& b : db_.orphan_layer_blobs()) {
            db_.delete_blob(b.digest);
            content_.remove(b.digest);
        }
    }
    return lines;
}

}  // namespace kiln::image
