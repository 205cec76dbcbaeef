#include "image/oci.hpp"

#include <algorithm>
#include <limits>

#include "util/error.hpp"

namespace kiln::image {

using Json = nlohmann::json;

namespace {

constexpr int kMaxDepth = 256;

std::string one_line(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return s;
}

[[noreturn]] void bad(const std::string& where, const std::string& why) {
    throw Error(one_line(where + ": " + why));
}

// Rejects nesting deeper than kMaxDepth before the recursive parser sees it.
void check_depth(std::string_view text, const std::string& what) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) bad(what, "JSON is nested too deeply");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

const char* type_name(const Json& j) { return j.type_name(); }

// A field's value, or nullptr when absent or null.
const Json* field(const Json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

const Json& object_of(const Json& j, const std::string& where) {
    if (!j.is_object()) bad(where, std::string("must be a JSON object, not ") + type_name(j));
    return j;
}

std::string get_string(const Json& obj, const char* key, const std::string& where) {
    const Json* v = field(obj, key);
    if (!v) return {};
    if (!v->is_string()) bad(where + "." + key, std::string("must be a string, not ") + type_name(*v));
    return v->get<std::string>();
}

std::vector<std::string> strings_of(const Json& v, const std::string& where, bool allow_scalar) {
    std::vector<std::string> out;
    if (allow_scalar && v.is_string()) {  // docker's strslice accepts "cmd" for ["cmd"]
        out.push_back(v.get<std::string>());
        return out;
    }
    if (!v.is_array()) bad(where, std::string("must be an array of strings, not ") + type_name(v));
    out.reserve(v.size());
    for (const auto& e : v) {
        if (!e.is_string()) bad(where, std::string("must contain only strings, found ") + type_name(e));
        out.push_back(e.get<std::string>());
    }
    return out;
}

std::vector<std::string> get_strings(const Json& obj, const char* key, const std::string& where) {
    const Json* v = field(obj, key);
    return v ? strings_of(*v, where + "." + key, false) : std::vector<std::string>{};
}

std::optional<std::vector<std::string>> get_opt_strings(const Json& obj, const char* key,
                                                        const std::string& where) {
    const Json* v = field(obj, key);
    if (!v) return std::nullopt;
    return strings_of(*v, where + "." + key, true);
}

std::map<std::string, std::string> get_string_map(const Json& obj, const char* key, const std::string& where) {
    std::map<std::string, std::string> out;
    const Json* v = field(obj, key);
    if (!v) return out;
    const std::string w = where + "." + key;
    object_of(*v, w);
    for (auto it = v->begin(); it != v->end(); ++it) {
        if (!it->is_string()) bad(w + "." + it.key(), std::string("must be a string, not ") + type_name(*it));
        out.emplace(it.key(), it->get<std::string>());
    }
    return out;
}

// {"80/tcp": {}} → ["80/tcp"]
std::vector<std::string> get_key_set(const Json& obj, const char* key, const std::string& where) {
    std::vector<std::string> out;
    const Json* v = field(obj, key);
    if (!v) return out;
    const std::string w = where + "." + key;
    object_of(*v, w);
    for (auto it = v->begin(); it != v->end(); ++it) {
        if (!it->is_object() && !it->is_null())
            bad(w + "." + it.key(), std::string("must be an object, not ") + type_name(*it));
        out.push_back(it.key());
    }
    return out;  // object keys are already sorted and unique
}

std::int64_t get_int(const Json& obj, const char* key, const std::string& where, std::int64_t min = 0) {
    const Json* v = field(obj, key);
    if (!v) return 0;
    const std::string w = where + "." + key;
    if (v->is_number_unsigned()) {
        if (v->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            bad(w, "is out of range");
        return v->get<std::int64_t>();
    }
    if (!v->is_number_integer()) bad(w, std::string("must be an integer, not ") + type_name(*v));
    std::int64_t n = v->get<std::int64_t>();
    if (n < min) bad(w, "must not be negative");
    return n;
}

bool get_bool(const Json& obj, const char* key, const std::string& where) {
    const Json* v = field(obj, key);
    if (!v) return false;
    if (!v->is_boolean()) bad(where + "." + key, std::string("must be true or false, not ") + type_name(*v));
    return v->get<bool>();
}

bool media_type_part(std::string_view p) {
    if (p.empty() || p.size() > 127) return false;
    auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    if (!ok_first(p.front())) return false;
    for (char c : p.substr(1))
        if (!ok_first(c) && std::string_view("!#$&^_.+-").find(c) == std::string_view::npos) return false;
    return true;
}

bool valid_base64(std::string_view s) {
    if (s.size() % 4 != 0) return false;
    std::size_t pad = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '=') {
            if (i + 2 < s.size()) return false;  // only the last two may be padding
            ++pad;
            continue;
        }
        if (pad) return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return pad <= 2;
}

// An absolute URI: scheme ":" followed by printable non-space characters.
bool valid_absolute_uri(std::string_view s) {
    auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(s.front())) return false;
    for (char c : s.substr(0, colon))
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '.' && c != '-') return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' ||
            c == '{' || c == '}' || c == '|' || c == '^' || c == '`')
            return false;
    return true;
}

std::string get_media_type(const Json& obj, const char* key, const std::string& where, bool required) {
    std::string t = get_string(obj, key, where);
    if (t.empty()) {
        if (required) bad(where + "." + key, "is missing");
        return t;
    }
    if (!valid_media_type(t)) bad(where + "." + key, "\"" + t.substr(0, 100) + "\" is not a valid media type");
    return t;
}

// Writes value under key unless// Writes value under key unless it is the empty form; an empty value removes the key,
// except where the original document had exactly that empty form (or null) there, so an
// unchanged document serializes back to the same bytes.
void put(Json& obj, const char* key, Json value, bool empty) {
    if (!empty) {
        obj[key] = std::move(value);
        return;
    }
    auto it = obj.find(key);
    if (it != obj.end() && !(it->is_null() || *it == value)) obj.erase(it);
}

void put_string(Json& obj, const char* key, const std::string& v) { put(obj, key, v, v.empty()); }
void put_strings(Json& obj, const char* key, const std::vector<std::string>& v) {
    put(obj, key, v, v.empty());
}
void put_opt_strings(Json& obj, const char* key, const std::optional<std::vector<std::string>>& v) {
    if (v)
        obj[key] = *v;
    else
        put(obj, key, nullptr, true);
}
void put_map(Json& obj, const char* key, const std::map<std::string, std::string>& m) {
    put(obj, key, m.empty() ? Json::object() : Json(m), m.empty());
}
void put_key_set(Json& obj, const char* key, const std::vector<std::string>& keys) {
    Json set = Json::object();
    for (const auto& k : keys) set[k] = Json::object();
    put(obj, key, std::move(set), keys.empty());
}

Json object_or_empty(const Json& extra) { return extra.is_object() ? extra : Json::object(); }

Platform platform_from_json(const Json& j, const std::string& where) {
    object_of(j, where);
    Platform p;
    p.architecture = get_string(j, "architecture", where);
    p.os = get_string(j, "os", where);
    if (p.architecture.empty()) bad(where + ".architecture", "is missing");
    if (p.os.empty()) bad(where + ".os", "is missing");
    p.os_version = get_string(j, "os.version", where);
    p.os_features = get_strings(j, "os.features", where);
    p.variant = get_string(j, "variant", where);
    return p;
}

Json platform_to_json(const Platform& p) {
    Json j = Json::object();
    j["architecture"] = p.architecture;
    j["os"] = p.os;
    put_string(j, "os.version", p.os_version);
    put_strings(j, "os.features", p.os_features);
    put_string(j, "variant", p.variant);
    return j;
}

ContainerConfig container_config_from_json(const Json& j, const std::string& w) {
    object_of(j, w);
    ContainerConfig c;
    c.user = get_string(j, "User", w);
    c.env = get_strings(j, "Env", w);
    for (const auto& e : c.env)
        if (e.empty() || e.front() == '=' || e.find('=') == std::string::npos)
            bad(w + ".Env", "entry \"" + e.substr(0, 100) + "\" is not NAME=VALUE");
    c.entrypoint = get_opt_strings(j, "Entrypoint", w);
    c.cmd = get_opt_strings(j, "Cmd", w);
    c.working_dir = get_string(j, "WorkingDir", w);
    c.labels = get_string_map(j, "Labels", w);
    c.exposed_ports = get_key_set(j, "ExposedPorts", w);
    c.volumes = get_key_set(j, "Volumes", w);
    c.stop_signal = get_string(j, "StopSignal", w);
    if (const Json* h = field(j, "Healthcheck")) {
        const std::string hw = w + ".Healthcheck";
        object_of(*h, hw);
        HealthConfig hc;
        hc.test = get_strings(*h, "Test", hw);
        hc.interval = get_int(*h, "Interval", hw);
        hc.timeout = get_int(*h, "Timeout", hw);
        hc.start_period = get_int(*h, "StartPeriod", hw);
        hc.start_interval = get_int(*h, "StartInterval", hw);
        std::int64_t retries = get_int(*h, "Retries", hw);
        if (retries > std::numeric_limits<int>::max()) bad(hw + ".Retries", "is out of range");
        hc.retries = static_cast<int>(retries);
        c.healthcheck = std::move(hc);
    }
    c.on_build = get_strings(j, "OnBuild", w);
    c.shell = get_opt_strings(j, "Shell", w);
    if (field(j, "StopTimeout")) c.stop_timeout = get_int(j, "StopTimeout", w, std::numeric_limits<std::int64_t>::min());
    c.args_escaped = get_bool(j, "ArgsEscaped", w);
    return c;
}

void container_config_to_json(const ContainerConfig& c, Json& j) {
    put_string(j, "User", c.user);
    put_strings(j, "Env", c.env);
    put_opt_strings(j, "Entrypoint", c.entrypoint);
    put_opt_strings(j, "Cmd", c.cmd);
    put_string(j, "WorkingDir", c.working_dir);
    put_map(j, "Labels", c.labels);
    put_key_set(j, "ExposedPorts", c.exposed_ports);
    put_key_set(j, "Volumes", c.volumes);
    put_string(j, "StopSignal", c.stop_signal);
    if (c.healthcheck) {
        const HealthConfig& h = *c.healthcheck;
        auto it = j.find("Healthcheck");
        Json hj = it != j.end() && it->is_object() ? *it : Json::object();
        put_strings(hj, "Test", h.test);
        put(hj, "Interval", h.interval, h.interval == 0);
        put(hj, "Timeout", h.timeout, h.timeout == 0);
        put(hj, "StartPeriod", h.start_period, h.start_period == 0);
        put(hj, "StartInterval", h.start_interval, h.start_interval == 0);
        put(hj, "Retries", h.retries, h.retries == 0);
        j["Healthcheck"] = std::move(hj);
    } else {
        put(j, "Healthcheck", nullptr, true);
    }
    put_strings(j, "OnBuild", c.on_build);
    put_opt_strings(j, "Shell", c.shell);
    if (c.stop_timeout)
        j["StopTimeout"] = *c.stop_timeout;
    else
        put(j, "StopTimeout", nullptr, true);
    put(j, "ArgsEscaped", c.args_escaped, !c.args_escaped);
}

std::vector<Descriptor> descriptors(const Json& obj, const char* key, const std::string& where) {
    std::vector<Descriptor> out;
    const Json* v = field(obj, key);
    if (!v) return out;
    const std::string w = where + "." + key;
    if (!v->is_array()) bad(w, std::string("must be an array, not ") + type_name(*v));
    out.reserve(v->size());
    for (std::size_t i = 0; i < v->size(); ++i)
        out.push_back(descriptor_from_json((*v)[i], w + "[" + std::to_string(i) + "]"));
    return out;
}

int schema_version(const Json& j, const std::string& where) {
    const Json* v = field(j, "schemaVersion");
    if (!v) bad(where + ".schemaVersion", "is missing");
    if (!v->is_number_integer() || v->get<std::int64_t>() != 2)
        bad(where + ".schemaVersion", "must be 2 (schema 1 manifests are not supported)");
    return 2;
}

}  // namespace

bool valid_media_type(std::string_view t) noexcept {
    auto slash = t.find('/');
    return slash != std::string_view::npos && media_type_part(t.substr(0, slash)) &&
           media_type_part(t.substr(slash + 1));
}

bool valid_digest_string(std::string_view t) noexcept {
    auto colon = t.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view alg = t.substr(0, colon), enc = t.substr(colon + 1);
    // algorithm := [a-z0-9]+ ([+._-] [a-z0-9]+)*
    bool need_alnum = true;
    for (char c : alg) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) {
            need_alnum = false;
        } else if (std::string_view("+._-").find(c) != std::string_view::npos && !need_alnum) {
            need_alnum = true;
        } else {
            return false;
        }
    }
    if (need_alnum || enc.empty()) return false;
    for (char c : enc)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '=' || c == '_' ||
              c == '-'))
            return false;
    auto lower_hex = [&](std::size_t n) {
        if (enc.size() != n) return false;
        for (char c : enc)
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        return true;
    };
    if (alg == "sha256") return lower_hex(64);
    if (alg == "sha512") return lower_hex(128);
    return true;
}

namespace media {
bool is_manifest(std::string_view t) noexcept { return t == kOciManifest || t == kDockerManifest; }
bool is_index(std::string_view t) noexcept { return t == kOciIndex || t == kDockerManifestList; }
bool is_layer(std::string_view t) noexcept {
    return t == kOciLayer || t == kOciLayerGzip || t == kOciLayerZstd || t == kOciLayerNondistributableGzip ||
           t == kDockerLayerGzip || t == kDockerLayerForeignGzip ||
           t == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
           t == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
}
}  // namespace media

std::string platform_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__i386__)
    return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

std::string platform_os() { return "linux"; }

std::string platform_variant() {
#if defined(__aarch64__)
    return "v8";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
    return "v7";
#elif defined(__arm__)
    return "v6";
#else
    return "";
#endif
}

std::string Platform::str() const {
    std::string out = os + "/" + architecture;
    if (!variant.empty()) out += "/" + variant;
    return out;
}

Platform parse_platform(std::string_view text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        auto slash = text.find('/', start);
        parts.emplace_back(text.substr(start, slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    auto invalid = [&] {
        bad("platform \"" + std::string(text.substr(0, 80)) + "\"", "expected os/arch[/variant], e.g. linux/amd64");
    };
    if (parts.size() > 3) invalid();
    for (auto& p : parts) {
        if (p.empty()) invalid();
        for (char& c : p) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) invalid();
        }
    }
    Platform p;
    if (parts.size() == 1) {
        p.os = platform_os();
        p.architecture = parts[0];
    } else {
        p.os = parts[0];
        p.architecture = parts[1];
        if (parts.size() == 3) p.variant = parts[2];
    }
    // Normalize like containerd: x86_64 → amd64, aarch64 → arm64 (variant v8 is implied).
    if (p.architecture == "x86_64" || p.architecture == "x86-64") p.architecture = "amd64";
    if (p.architecture == "aarch64") p.architecture = "arm64";
    if (p.architecture == "arm64" && p.variant == "v8") p.variant.clear();
    return p;
}

Platform host_platform() {
    Platform p;
    p.os = platform_os();
    p.architecture = platform_arch();
    if (p.architecture == "arm") p.variant = platform_variant();
    return p;
}

bool platform_matches(const Platform& have, const Platform& want) {
    if (have.os != want.os || have.architecture != want.architecture) return false;
    if (want.variant.empty() || have.variant.empty()) return true;
    if (have.architecture == "arm64") return true;  // v8 is the only arm64 variant in use
    return have.variant == want.variant;
}

Json parse_json(std::string_view text, const std::string& what) {
    check_depth(text, what);
    try {
        return Json::parse(text.begin(), text.end());
    } catch (const Json::exception& e) {
        bad(what, std::string("invalid JSON: ") + e.what());
    }
}

std::string canonical_json(const Json& j) {
    try {
        return j.dump();
    } catch (const Json::exception& e) {
        bad("JSON serialization", e.what());
    }
}

Descriptor descriptor_from_json(const Json& j, const std::string& where) {
    object_of(j, where);
    Descriptor d;
    d.media_type = get_media_type(j, "mediaType", where, true);
    const std::string dig = get_string(j, "digest", where);
    if (dig.empty()) bad(where + ".digest", "is missing");
    if (!valid_digest_string(dig)) bad(where + ".digest", "\"" + dig.substr(0, 140) + "\" is not a valid digest");
    if (Digest::valid(dig))
        d.digest = Digest::parse(dig);
    else
        d.other_digest = dig;
    if (!field(j, "size")) bad(where + ".size", "is missing");
    d.size = get_int(j, "size", where);
    d.urls = get_strings(j, "urls", where);
    for (const auto& u : d.urls)
        if (!valid_absolute_uri(u)) bad(where + ".urls", "\"" + u.substr(0, 100) + "\" is not an absolute URI");
    if (const Json* data = field(j, "data")) {
        if (!data->is_string() || !valid_base64(data->get_ref<const std::string&>()))
            bad(where + ".data", "must be a padded base64 string");
    }
    d.annotations = get_string_map(j, "annotations", where);
    if (const Json* p = field(j, "platform")) d.platform = platform_from_json(*p, where + ".platform");
    d.artifact_type = get_media_type(j, "artifactType", where, false);
    d.extra = j;
    return d;
}

Json to_json(const Descriptor& d) {
    Json j = object_or_empty(d.extra);
    put_string(j, "mediaType", d.media_type);
    j["digest"] = d.other_digest.empty() ? d.digest.str() : d.other_digest;
    j["size"] = d.size;
    put_strings(j, "urls", d.urls);
    put_map(j, "annotations", d.annotations);
    if (d.platform) {
        Json pj = platform_to_json(*d.platform);
        auto it = j.find("platform");
        if (it != j.end() && it->is_object()) {
            for (auto kv = it->begin(); kv != it->end(); ++kv)
                if (!pj.contains(kv.key()) && kv.key() != "os.version" && kv.key() != "os.features" &&
                    kv.key() != "variant")
                    pj[kv.key()] = *kv;  // e.g. "features"
        }
        j["platform"] = std::move(pj);
    } else {
        put(j, "platform", nullptr, true);
    }
    put_string(j, "artifactType", d.artifact_type);
    return j;
}

ImageConfig parse_image_config(std::string_view text) {
    const std::string w = "image config";
    Json j = parse_json(text, w);
    object_of(j, w);
    ImageConfig c;
    c.architecture = get_string(j, "architecture", w);
    c.os = get_string(j, "os", w);
    c.os_version = get_string(j, "os.version", w);
    c.variant = get_string(j, "variant", w);
    c.created = get_string(j, "created", w);
    c.author = get_string(j, "author", w);
    if (const Json* cfg = field(j, "config")) c.config = container_config_from_json(*cfg, w + ".config");
    if (c.architecture.empty()) bad(w + ".architecture", "is missing");
    if (c.os.empty()) bad(w + ".os", "is missing");
    const Json* rootfs = field(j, "rootfs");
    if (!rootfs) bad(w + ".rootfs", "is missing");
    {
        const std::string rw = w + ".rootfs";
        object_of(*rootfs, rw);
        std::string type = get_string(*rootfs, "type", rw);
        if (type != "layers") bad(rw + ".type", "must be \"layers\"");
        if (!field(*rootfs, "diff_ids")) bad(rw + ".diff_ids", "is missing");
        for (const auto& s : get_strings(*rootfs, "diff_ids", rw)) {
            if (!Digest::valid(s)) bad(rw + ".diff_ids", "contains an invalid digest \"" + s.substr(0, 80) + "\"");
            c.diff_ids.push_back(Digest::parse(s));
        }
    }
    if (const Json* h = field(j, "history")) {
        if (!h->is_array()) bad(w + ".history", std::string("must be an array, not ") + type_name(*h));
        for (std::size_t i = 0; i < h->size(); ++i) {
            const std::string hw = w + ".history[" + std::to_string(i) + "]";
            const Json& e = object_of((*h)[i], hw);
            HistoryEntry he;
            he.created = get_string(e, "created", hw);
            he.created_by = get_string(e, "created_by", hw);
            he.author = get_string(e, "author", hw);
            he.comment = get_string(e, "comment", hw);
            he.empty_layer = get_bool(e, "empty_layer", hw);
            he.extra = e;
            c.history.push_back(std::move(he));
        }
    }
    c.extra = std::move(j);
    return c;
}

Json to_json(const ImageConfig& c) {
    Json j = object_or_empty(c.extra);
    // OCI requires architecture and os; write them even when empty.
    j["architecture"] = c.architecture;
    j["os"] = c.os;
    put_string(j, "os.version", c.os_version);
    put_string(j, "variant", c.variant);
    put_string(j, "created", c.created);
    put_string(j, "author", c.author);

    auto cit = j.find("config");
    Json cfg = cit != j.end() && cit->is_object() ? *cit : Json::object();
    container_config_to_json(c.config, cfg);
    put(j, "config", cfg, cfg.empty());

    auto rit = j.find("rootfs");
    Json rootfs = rit != j.end() && rit->is_object() ? *rit : Json::object();
    rootfs["type"] = "layers";
    Json ids = Json::array();
    for (const auto& d : c.diff_ids) ids.push_back(d.str());
    rootfs["diff_ids"] = std::move(ids);
    j["rootfs"] = std::move(rootfs);

    Json hist = Json::array();
    for (const auto& h : c.history) {
        Json e = object_or_empty(h.extra);
        put_string(e, "created", h.created);
        put_string(e, "created_by", h.created_by);
        put_string(e, "author", h.author);
        put_string(e, "comment", h.comment);
        put(e, "empty_layer", h.empty_layer, !h.empty_layer);
        hist.push_back(std::move(e));
    }
    put(j, "history", std::move(hist), c.history.empty());
    return j;
}

namespace {

// The fields manifests and indexes share.
template <class T>
Json parse_envelope(std::string_view text, const std::string& w, bool (*accepts)(std::string_view) noexcept,
                    const char* kind, T& out) {
    Json j = parse_json(text, w);
    object_of(j, w);
    out.schema_version = schema_version(j, w);
    out.media_type = get_media_type(j, "mediaType", w, false);
    if (!out.media_type.empty() && !accepts(out.media_type))
        bad(w + ".mediaType", "\"" + out.media_type.substr(0, 100) + "\" is not " + kind);
    out.artifact_type = get_media_type(j, "artifactType", w, false);
    if (const Json* s = field(j, "subject")) out.subject = descriptor_from_json(*s, w + ".subject");
    out.annotations = get_string_map(j, "annotations", w);
    return j;
}

template <class T>
Json envelope_to_json(const T& x) {
    Json j = object_or_empty(x.extra);
    j["schemaVersion"] = x.schema_version;
    put_string(j, "mediaType", x.media_type);
    put_string(j, "artifactType", x.artifact_type);
    if (x.subject)
        j["subject"] = to_json(*x.subject);
    else
        put(j, "subject", nullptr, true);
    put_map(j, "annotations", x.annotations);
    return j;
}

Json descriptors_to_json(const std::vector<Descriptor>& list) {
    Json out = Json::array();
    for (const auto& d : list) out.push_back(to_json(d));
    return out;
}

}  // namespace

Manifest parse_manifest(std::string_view text) {
    const std::string w = "manifest";
    Manifest m;
    Json j = parse_envelope(text, w, media::is_manifest, "an image manifest type", m);
    const Json* cfg = field(j, "config");
    if (!cfg) bad(w + ".config", "is missing");
    m.config = descriptor_from_json(*cfg, w + ".config");
    if (!field(j, "layers")) bad(w + ".layers", "is missing");
    m.layers = descriptors(j, "layers", w);
    m.extra = std::move(j);
    return m;
}

Json to_json(const Manifest& m) {
    Json j = envelope_to_json(m);
    j["config"] = to_json(m.config);
    j["layers"] = descriptors_to_json(m.layers);
    return j;
}

Index parse_index(std::string_view text) {
    Index x;
    Json j = parse_envelope(text, "index", media::is_index, "an image index type", x);
    if (!field(j, "manifests")) bad("index.manifests", "is missing");
    x.manifests = descriptors(j, "manifests", "index");
    x.extra = std::move(j);
    return x;
}

Json to_json(const Index& x) {
    Json j = envelope_to_json(x);
    j["manifests"] = descriptors_to_json(x.manifests);
    return j;
}

std::string serialize(const ImageConfig& c) { return canonical_json(to_json(c)); }
std::string serialize(const Manifest& m) { return canonical_json(to_json(m)); }
std::string serialize(const Index& i) { return canonical_json(to_json(i)); }

}  // namespace kiln::image
