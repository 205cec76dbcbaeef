#include "runtime/user.hpp"

#include <charconv>

namespace kiln::runtime {

namespace {

// Splits `line` at ':' into up to N fields; returns how many it found.
template <std::size_t N>
std::size_t split_fields(std::string_view line, std::array<std::string_view, N>& fields) {
    std::size_t n = 0;
    while (n < N) {
        auto colon = line.find(':');
        fields[n++] = line.substr(0, colon);
        if (colon == std::string_view::npos) break;
        line.remove_prefix(colon + 1);
    }
    return n;
}

// Calls fn(line) for each non-empty, non-comment line; stops early when fn returns true.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        if (fn(line)) return;
    }
}

struct GroupEntry {
    std::string_view name;
    gid_t gid = 0;
    std::string_view members;  // comma separated
};

std::optional<GroupEntry> parse_group_line(std::string_view line) {
    std::array<std::string_view, 4> f;
    if (split_fields(line, f) < 3) return std::nullopt;
    auto gid = parse_id(f[2]);
    if (!gid) return std::nullopt;
    return GroupEntry{f[0], static_cast<gid_t>(*gid), f[3]};
}

bool has_member(std::string_view members, std::string_view name) {
    while (!members.empty()) {
        auto comma = members.find(',');
        if (members.substr(0, comma) == name) return true;
        if (comma == std::string_view::npos) break;
        members.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::optional<unsigned> parse_id(std::string_view s) {
    unsigned value = 0;
    if (s.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || value > max_id) return std::nullopt;
    return value;
}

bool is_out_of_range_id(std::string_view s) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    return !parse_id(s);
}

std::optional<PasswdEntry> find_passwd(std::string_view passwd, std::string_view key) {
    auto numeric = parse_id(key);
    std::optional<PasswdEntry> found;
    for_each_line(passwd, [&](std::string_view line) {
        std::array<std::string_view, 7> f;
        if (split_fields(line, f) < 4) return false;
        auto uid = parse_id(f[2]);
        auto gid = parse_id(f[3]);
        if (!uid || !gid) return false;
        if (f[0] != key && !(numeric && *numeric == *uid)) return false;
        found = PasswdEntry{f[0], static_cast<uid_t>(*uid), static_cast<gid_t>(*gid), f[5]};
        return true;
    });
    return found;
}

bool resolve_user(std::string_view spec, std::string_view passwd, std::string_view group,
                  ResolvedUser& out, const char*& error) {
    out = ResolvedUser{};
    std::string_view user_part = spec.substr(0, spec.find(':'));
    std::string_view group_part;
    if (auto colon = spec.find(':'); colon != std::string_view::npos) group_part = spec.substr(colon + 1);
    if (user_part.empty()) user_part = "0";
    // 2^32-1 is "no change" to setresuid/setresgid: it would leave the process root.
    if (is_out_of_range_id(user_part) || is_out_of_range_id(group_part)) {
        error = "uids and gids must be in range 0-2147483647";
        return false;
    }

    auto entry = find_passwd(passwd, user_part);
    std::string_view user_name;
    if (entry) {
        out.uid = entry->uid;
        out.gid = entry->gid;
        if (!entry->home.empty()) out.home = entry->home;
        user_name = entry->name;
    } else if (auto uid = parse_id(user_part)) {
        out.uid = static_cast<uid_t>(*uid);
    } else {
        error = "unable to find user: no matching entries in passwd file";
        return false;
    }

    if (!group_part.empty()) {
        auto gid_number = parse_id(group_part);
        bool found = false;
        for_each_line(group, [&](std::string_view line) {
            auto g = parse_group_line(line);
            if (!g) return false;
            if (gid_number ? g->gid == *gid_number : g->name == group_part) {
                out.gid = g->gid;
                found = true;
            }
            return found;
        });
        if (!found) {
            if (!gid_number) {
                error = "unable to find group: no matching entries in group file";
                return false;
            }
            out.gid = static_cast<gid_t>(*gid_number);
        }
        return true;
    }

    // No explicit group: the user's supplementary groups are those listing it by name.
    if (user_name.empty()) return true;
    for_each_line(group, [&](std::string_view line) {
        auto g = parse_group_line(line);
        if (g && has_member(g->members, user_name)) out.groups[out.group_count++] = g->gid;
        return out.group_count == out.groups.size();
    });
    return true;
}

}  // namespace kiln::runtime
