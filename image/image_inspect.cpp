#include "image/image_inspect.hpp"

#include "image/image_store.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/human_units.hpp"

namespace kiln::image {

namespace {

// A config field as Docker's Go structs print it: absent or empty lists/maps are null.
TemplateValue or_null(const nlohmann::json& section, const char* key) {
    auto it = section.find(key);
    if (it == section.end() || it->is_null() || (it->is_array() && it->empty()) || (it->is_object() && it->empty()))
        return nullptr;
    return TemplateValue(*it);
}

std::string string_field(const nlohmann::json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The image config's "config" section in the shape of Docker's container.Config: the
// fields Docker always prints, then those it omits when empty, in its struct order.
TemplateValue container_config(const nlohmann::json& config) {
    static const nlohmann::json kEmpty = nlohmann::json::object();
    auto it = config.find("config");
    const nlohmann::json& section = it != config.end() && it->is_object() ? *it : kEmpty;
    TemplateValue out = TemplateValue::object();
    out["Hostname"] = "";
    out["Domainname"] = "";
    out["User"] = string_field(section, "User");
    out["AttachStdin"] = false;
    out["AttachStdout"] = false;
    out["AttachStderr"] = false;
    if (auto ports = or_null(section, "ExposedPorts"); !ports.is_null()) out["ExposedPorts"] = ports;
    out["Tty"] = false;
    out["OpenStdin"] = false;
    out["StdinOnce"] = false;
    out["Env"] = or_null(section, "Env");
    out["Cmd"] = or_null(section, "Cmd");
    if (auto health = or_null(section, "Healthcheck"); !health.is_null()) out["Healthcheck"] = health;
    if (auto escaped = section.find("ArgsEscaped"); escaped != section.end() && escaped->is_boolean() && *escaped)
        out["ArgsEscaped"] = true;
    out["Image"] = "";
    out["Volumes"] = or_null(section, "Volumes");
    out["WorkingDir"] = string_field(section, "WorkingDir");
    out["Entrypoint"] = or_null(section, "Entrypoint");
    out["OnBuild"] = or_null(section, "OnBuild");
    out["Labels"] = or_null(section, "Labels");
    if (auto signal = string_field(section, "StopSignal"); !signal.empty()) out["StopSignal"] = signal;
    if (auto timeout = section.find("StopTimeout"); timeout != section.end() && timeout->is_number())
        out["StopTimeout"] = *timeout;
    if (auto shell = or_null(section, "Shell"); !shell.is_null()) out["Shell"] = shell;
    return out;
}

bool empty_layer(const nlohmann::json& history_entry) {
    auto it = history_entry.find("empty_layer");
    return it != history_entry.end() && it->is_boolean() && it->get<bool>();
}

std::vector<std::string> diff_ids(const nlohmann::json& config) {
    std::vector<std::string> out;
    auto rootfs = config.find("rootfs");
    if (rootfs == config.end() || !rootfs->is_object()) return out;
    auto ids = rootfs->find("diff_ids");
    if (ids == rootfs->end() || !ids->is_array()) return out;
    for (const auto& d : *ids)
        if (d.is_string()) out.push_back(d.get<std::string>());
    return out;
}

}  // namespace

TemplateValue inspect_object(const Digest& id, const nlohmann::json& config, std::uint64_t size,
                             const std::vector<std::string>& repo_tags,
                             const std::vector<LayerInfo>& layers, const std::string& layers_root,
                             const std::vector<std::string>& repo_digests) {
    TemplateValue out = TemplateValue::object();
    out["Id"] = id.str();
    out["RepoTags"] = repo_tags;
    out["RepoDigests"] = TemplateValue::array();
    for (const auto& d : repo_digests) out["RepoDigests"].push_back(d);
    out["Parent"] = "";
    out["Comment"] = string_field(config, "comment");
    if (auto created = string_field(config, "created"); !created.empty()) out["Created"] = created;
    out["DockerVersion"] = string_field(config, "docker_version");
    out["Author"] = string_field(config, "author");
    out["Config"] = container_config(config);
    out["Architecture"] = string_field(config, "architecture");
    if (auto variant = string_field(config, "variant"); !variant.empty()) out["Variant"] = variant;
    out["Os"] = string_field(config, "os");
    if (auto version = string_field(config, "os.version"); !version.empty()) out["OsVersion"] = version;
    out["Size"] = size;

    // Shaped like overlay2's: the top layer as UpperDir over the rest; kiln creates merged/
    // and work/ beside a container's own upper dir, never in a layer, so those two are where
    // overlay2 would keep them and do not exist.
    TemplateValue data = TemplateValue::object();
    if (!layers.empty()) {
        std::string lower;
        for (std::size_t i = layers.size() - 1; i-- > 0;) lower += (lower.empty() ? "" : ":") + layers[i].diff_dir;
        if (!lower.empty()) data["LowerDir"] = lower;
        std::string top_dir = layers_root + "/" + layers.back().chain_id.hex();
        data["MergedDir"] = top_dir + "/merged";
        data["UpperDir"] = layers.back().diff_dir;
        data["WorkDir"] = top_dir + "/work";
    }
    out["GraphDriver"] = {{"Data", layers.empty() ? TemplateValue(nullptr) : data}, {"Name", "overlay2"}};
    TemplateValue rootfs_layers = TemplateValue::array();
    for (const auto& d : diff_ids(config)) rootfs_layers.push_back(d);
    out["RootFS"] = {{"Type", "layers"}, {"Layers", rootfs_layers}};
    // Docker's zero time: kiln does not record when a name was last set.
    out["Metadata"] = {{"LastTagTime", "0001-01-01T00:00:00Z"}};
    return out;
}

TemplateValue inspect_image(Store& store, const Digest& id) {
    auto summary = store.images().get(id);
    if (!summary) throw Error("No such image: " + id.str());
    auto config = nlohmann::json::parse(store.images().config(id));
    std::vector<std::string> tags;
    for (const auto& name : summary->names) {
        auto ref = try_parse_reference(name);
        tags.push_back(ref ? ref->familiar() : name);
    }
    std::vector<LayerInfo> layers;
    if (summary->top_chain_id) layers = store.layers().chain(*summary->top_chain_id);
    return inspect_object(id, config, summary->size, tags, layers, store.layers().root() + "/layers",
                          familiar_repo_digests(store, id));
}

std::vector<std::string> familiar_repo_digests(Store& store, const Digest& id) {
    std::vector<std::string> out;
    for (const auto& [repository, digest] : store.db().repo_digests_for(id)) {
        auto ref = try_parse_reference(repository + "@" + digest.str());
        out.push_back(ref ? ref->familiar() : repository + "@" + digest.str());
    }
    return out;
}

std::string inspect_json(const TemplateValue& value) {
    std::string text = value.dump(4);
    // The three characters only ever occur inside JSON strings, so a plain pass is exact.
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '<') out += "\\u003c";
        else if (c == '>') out += "\\u003e";
        else if (c == '&') out += "\\u0026";
        else out += c;
    }
    return out;
}

std::vector<HistoryRow> history_rows(const nlohmann::json& config, const std::vector<std::uint64_t>& layer_sizes,
                                     const Digest& image_id, const std::vector<std::string>& tags) {
    std::vector<HistoryRow> rows;
    std::size_t layer = 0;
    auto history = config.find("history");
    if (history != config.end() && history->is_array()) {
        for (const auto& entry : *history) {
            if (!entry.is_object()) continue;
            HistoryRow row;
            row.id = "<missing>";
            if (auto t = parse_rfc3339(string_field(entry, "created"))) row.created = *t;
            row.created_by = string_field(entry, "created_by");
            row.comment = string_field(entry, "comment");
            if (!empty_layer(entry) && layer < layer_sizes.size()) row.size = layer_sizes[layer++];
            rows.push_back(std::move(row));
        }
    }
    // A config without history (hand-made, or squashed) still has layers to show.
    bool without_history = rows.empty();
    for (; without_history && layer < layer_sizes.size(); ++layer) {
        HistoryRow row;
        row.id = "<missing>";
        row.size = layer_sizes[layer];
        rows.push_back(std::move(row));
    }
    std::reverse(rows.begin(), rows.end());
    if (!rows.empty()) {
        rows.front().id = image_id.str();
        rows.front().tags = tags;
    }
    return rows;
}

std::vector<std::string> layer_history(const nlohmann::json& config, std::size_t layer_count) {
    std::vector<std::string> out;
    auto history = config.find("history");
    if (history != config.end() && history->is_array())
        for (const auto& entry : *history) {
            if (!entry.is_object() || empty_layer(entry)) continue;
            out.push_back(string_field(entry, "created_by"));
        }
    out.resize(layer_count);
    return out;
}

std::string ellipsis(const std::string& text, std::size_t max_chars) {
    std::vector<std::size_t> starts;  // byte offset of each UTF-8 character
    for (std::size_t i = 0; i < text.size(); ++i)
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
    if (starts.size() <= max_chars) return text;
    if (max_chars == 0) return "";
    return text.substr(0, starts[max_chars - 1]) + "…";
}

TemplateValue history_fields(const HistoryRow& row, bool human, bool truncate, std::int64_t now) {
    std::string created_by = row.created_by;
    for (auto& c : created_by)
        if (c == '\t') c = ' ';
    TemplateValue out = TemplateValue::object();
    std::string id = row.id;
    if (truncate && id.starts_with("sha256:")) id = id.substr(7, 12);
    out["ID"] = id;
    out["CreatedSince"] = human ? human_duration(now - row.created) + " ago" : rfc3339_local(row.created);
    out["CreatedAt"] = rfc3339_local(row.created);
    out["CreatedBy"] = truncate ? ellipsis(created_by, 45) : created_by;
    out["Size"] = human ? human_size(row.size, 3) : std::to_string(row.size);
    out["Comment"] = row.comment;
    out["Tags"] = row.tags;
    return out;
}

}  // namespace kiln::image
