#include "runtime/tmpfs_mounts.hpp"

#include <sys/mount.h>

#include <string_view>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

struct Flag {
    std::string_view name;
    unsigned long set, clear;
};
constexpr Flag flags[] = {
    {"rw", 0, MS_RDONLY},           {"ro", MS_RDONLY, 0},          {"exec", 0, MS_NOEXEC},
    {"noexec", MS_NOEXEC, 0},       {"suid", 0, MS_NOSUID},        {"nosuid", MS_NOSUID, 0},
    {"dev", 0, MS_NODEV},           {"nodev", MS_NODEV, 0},        {"atime", 0, MS_NOATIME},
    {"noatime", MS_NOATIME, 0},     {"relatime", MS_RELATIME, MS_STRICTATIME},
    {"strictatime", MS_STRICTATIME, MS_RELATIME},
};

bool all_of(std::string_view s, std::string_view allowed) {
    return !s.empty() && s.find_first_not_of(allowed) == std::string_view::npos;
}

// digits with an optional k, m or g (or % for size), as tmpfs itself takes them.
bool is_amount(std::string_view v, bool percent) {
    if (!v.empty() && (v.back() == 'k' || v.back() == 'm' || v.back() == 'g' || v.back() == 'K' ||
                       v.back() == 'M' || v.back() == 'G' || (percent && v.back() == '%')))
        v.remove_suffix(1);
    return all_of(v, "0123456789");
}

bool valid_data_option(std::string_view key, std::string_view value) {
    if (key == "size") return is_amount(value, true);
    if (key == "nr_inodes" || key == "nr_blocks") return is_amount(value, false);
    if (key == "mode") return all_of(value, "01234567") && value.size() <= 4;
    if (key == "uid" || key == "gid") return all_of(value, "0123456789");
    return false;
}

}  // namespace

std::pair<std::string, std::string> split_tmpfs_flag(const std::string& text) {
    auto colon = text.find(':');
    std::string path = text.substr(0, colon);
    std::string options = colon == std::string::npos ? "" : text.substr(colon + 1);
    if (path.empty() || !path.starts_with('/'))
        throw Error("invalid --tmpfs \"" + text + "\": the path must be absolute");
    return {clean_path(path), options};
}

TmpfsMount tmpfs_mount(const std::string& path, const std::string& options) {
    TmpfsMount m{path, MS_NOEXEC | MS_NOSUID | MS_NODEV, ""};
    std::string_view rest = options;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view option = rest.substr(0, comma);
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
        if (option.empty()) continue;
        bool known = false;
        for (const auto& f : flags) {
            if (f.name != option) continue;
            m.flags = (m.flags & ~f.clear) | f.set;
            known = true;
        }
        if (known) continue;
        auto eq = option.find('=');
        if (eq == std::string_view::npos || !valid_data_option(option.substr(0, eq), option.substr(eq + 1)))
            throw Error("invalid --tmpfs option \"" + std::string(option) + "\" for " + path);
        if (!m.data.empty()) m.data += ',';
        m.data += option;
    }
    return m;
}

}  // namespace kiln::runtime
