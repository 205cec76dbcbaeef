#include "builder/mount_flags.hpp"

#include <sys/stat.h>

#include <array>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "builder/flag_values.hpp"
#include "runtime/volume_store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::builder {

namespace {

constexpr std::array<std::string_view, 6> propagations = {"shared", "slave", "private", "rshared", "rslave", "rprivate"};

bool is_propagation(std::string_view p) {
    for (auto known : propagations)
        if (p == known) return true;
    return false;
}

const char* type_name(MountType t) {
    switch (t) {
        case MountType::bind: return "bind";
        case MountType::volume: return "volume";
        case MountType::tmpfs: return "tmpfs";
    }
    return "?";
}

// The daemon's checks of a mount, whichever flag made it.
void check_mount(const MountRequest& m) {
    auto invalid = [&](const std::string& why) {
        return Error(fmt::format("invalid mount config for type \"{}\": {}", type_name(m.type), why));
    };
    if (m.destination.empty()) throw invalid("field Target must not be empty");
    if (!m.destination.starts_with('/'))
        throw invalid("invalid mount path: '" + m.destination + "' mount path must be absolute");
    if (m.destination == "/") throw invalid("invalid specification: destination can't be '/'");
    switch (m.type) {
        case MountType::bind: {
            if (m.source.empty()) throw invalid("field Source must not be empty");
            if (!m.source.starts_with('/'))
                throw invalid("invalid mount path: '" + m.source + "' mount path must be absolute");
            break;
        }
        case MountType::volume:
            if (!m.source.empty()) runtime::validate_volume_name(m.source);
            break;
        case MountType::tmpfs:
            if (!m.source.empty()) throw invalid("field Source must not be specified");
            break;
    }
}

// Docker's strconv.ParseBool, for --mount's boolean keys.
bool parse_bool(const std::string& key, const std::string& value, const std::string& text) {
    if (value == "1" || value == "true" || value == "TRUE" || value == "True" || value == "t" || value == "T") return true;
    if (value == "0" || value == "false" || value == "FALSE" || value == "False" || value == "f" || value == "F") return false;
    throw Error(fmt::format("invalid argument \"{}\" for \"--mount\" flag: invalid value for {}: {}", text, key, value));
}

// encoding/csv's reading of one line: fields split at commas, "…" quotes a field
// (with "" for a quote inside it).
std::vector<std::string> csv_fields(const std::string& text) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                fields.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                fields.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else {
            fields.back() += c;
        }
    }
    if (quoted) throw Error("invalid argument \"" + text + "\" for \"--mount\" flag: extraneous or missing \" in quoted-field");
    return fields;
}

std::string octal_mode(const std::string& value, const std::string& text) {
    if (value.empty() || value.size() > 4 || value.find_first_not_of("01234567") != std::string::npos)
        throw Error(fmt::format("invalid argument \"{}\" for \"--mount\" flag: invalid value for tmpfs-mode: {}", text, value));
    return value;
}

}  // namespace

MountRequest parse_volume_flag(const std::string& text) {
    auto invalid = [&] { return Error("invalid volume specification: '" + text + "'"); };
    auto parts = split_fields(text, ':');
    if (parts.size() > 3) throw invalid();
    for (const auto& p : parts)
        if (p.empty()) throw invalid();
    MountRequest m;
    m.from_volume_flag = true;
    std::string options;
    if (parts.size() == 1) {
        m.destination = parts[0];
    } else {
        m.source = parts[0];
        m.destination = parts[1];
        if (parts.size() == 3) options = parts[2];
    }
    m.type = m.source.starts_with('/') ? MountType::bind : MountType::volume;
    bool access = false, label = false;
    for (const auto& option : split_fields(options, ',')) {
        if (options.empty()) break;
        if (option == "ro" || option == "rw") {
            if (access) throw Error("invalid mode: " + options);
            access = true;
            m.readonly = option == "ro";
        } else if (option == "z" || option == "Z") {
            // Relabelling is for SELinux hosts; Docker accepts and skips it elsewhere.
            if (label) throw Error("invalid mode: " + options);
            label = true;
        } else if (option == "nocopy") {
            if (m.type != MountType::volume || m.nocopy) throw Error("invalid mode: " + options);
            m.nocopy = true;
        } else if (is_propagation(option)) {
            if (m.type != MountType::bind || !m.propagation.empty()) throw Error("invalid mode: " + options);
            m.propagation = option;
        } else {
            throw Error("invalid mode: " + options);
        }
    }
    m.mode = options;
    check_mount(m);
    m.destination = clean_path(m.destination);
    if (m.type == MountType::bind) m.source = clean_path(m.source);
    return m;
}

MountRequest parse_mount_flag(const std::string& text) {
    auto bad = [&](const std::string& why) {
        return Error(fmt::format("invalid argument \"{}\" for \"--mount\" flag: {}", text, why));
    };
    MountRequest m;
    bool volume_keys = false, bind_keys = false, tmpfs_keys = false;
    std::string tmpfs_size, tmpfs_mode;
    for (const auto& field : csv_fields(text)) {
        auto eq = field.find('=');
        std::string key = field.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
        const bool has_value = eq != std::string::npos;
        if (key == "readonly" || key == "ro") {
            m.readonly = !has_value || parse_bool(key, value, text);
            continue;
        }
        if (key == "volume-nocopy") {
            m.nocopy = !has_value || parse_bool(key, value, text);
            volume_keys = true;
            continue;
        }
        if (!has_value) throw bad("invalid field '" + field + "' must be a key=value pair");
        if (key == "type") {
            if (value == "bind")
                m.type = MountType::bind;
            else if (value == "volume")
                m.type = MountType::volume;
            else if (value == "tmpfs")
                m.type = MountType::tmpfs;
            else
                throw bad("kiln mounts type bind, volume or tmpfs, not \"" + value + "\"");
        } else if (key == "source" || key == "src") {
            m.source = value;
        } else if (key == "target" || key == "dst" || key == "destination") {
            m.destination = value;
        } else if (key == "bind-propagation") {
            if (!is_propagation(value)) throw bad("invalid value for bind-propagation: " + value);
            m.propagation = value;
            bind_keys = true;
        } else if (key == "volume-label" || key == "volume-opt") {
            auto kv = value.find('=');
            auto& into = key == "volume-label" ? m.volume_labels : m.volume_options;
            into[value.substr(0, kv)] = kv == std::string::npos ? "" : value.substr(kv + 1);
            volume_keys = true;
        } else if (key == "volume-driver") {
            if (value != "local") throw bad("kiln has only the \"local\" volume driver");
            volume_keys = true;
        } else if (key == "tmpfs-size") {
            std::int64_t bytes = parse_memory_size(value, "tmpfs-size");
            if (bytes <= 0) throw bad("invalid value for tmpfs-size: " + value);
            tmpfs_size = std::to_string(bytes);
            tmpfs_keys = true;
        } else if (key == "tmpfs-mode") {
            tmpfs_mode = octal_mode(value, text);
            tmpfs_keys = true;
        } else if (key == "consistency") {
            // Only meaningful on Docker Desktop for Mac; ignored on Linux, as Docker does.
        } else {
            throw bad("unexpected key '" + key + "' in '" + field + "'");
        }
    }
    if (m.destination.empty()) throw bad("target is required");
    const char* type = type_name(m.type);
    if (volume_keys && m.type != MountType::volume) throw bad(fmt::format("cannot mix 'volume-*' options with mount type '{}'", type));
    if (bind_keys && m.type != MountType::bind) throw bad(fmt::format("cannot mix 'bind-*' options with mount type '{}'", type));
    if (tmpfs_keys && m.type != MountType::tmpfs) throw bad(fmt::format("cannot mix 'tmpfs-*' options with mount type '{}'", type));
    if (m.type == MountType::volume && !m.volume_options.empty()) runtime::validate_volume_options(m.volume_options);
    check_mount(m);
    m.destination = clean_path(m.destination);
    if (m.type == MountType::bind) {
        m.source = clean_path(m.source);
        struct stat st;
        if (::stat(m.source.c_str(), &st) != 0)
            throw Error("invalid mount config for type \"bind\": bind source path does not exist: " + m.source);
    }
    if (m.type == MountType::tmpfs) {
        if (!tmpfs_size.empty()) m.tmpfs_options = "size=" + tmpfs_size;
        if (!tmpfs_mode.empty()) m.tmpfs_options += (m.tmpfs_options.empty() ? "mode=" : ",mode=") + tmpfs_mode;
        if (m.readonly) m.tmpfs_options += m.tmpfs_options.empty() ? "ro" : ",ro";
    }
    return m;
}

std::pair<std::string, std::string> parse_volumes_from(const std::string& text) {
    auto parts = split_fields(text, ':');
    if (parts.size() > 2 || parts[0].empty()) throw Error("invalid --volumes-from \"" + text + "\": expected CONTAINER[:ro|rw]");
    if (parts.size() == 1) return {parts[0], ""};
    if (parts[1] != "ro" && parts[1] != "rw")
        throw Error("invalid --volumes-from \"" + text + "\": mode must be ro or rw");
    return {parts[0], parts[1]};
}

}  // namespace kiln::builder
