#pragma once
// Resolving a Docker user spec ("name", "uid", "name:group", "uid:gid") against the
// container's own /etc/passwd and /etc/group, the way runc's GetExecUser does.
//
// Everything here works on string_views over file contents and writes into fixed-size
// results without allocating: it runs in the cloned container process, where another
// thread of the parent may have held a malloc lock at clone time.
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace kiln::runtime {

struct PasswdEntry {
    std::string_view name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string_view home;
};

// Finds the first passwd line whose name equals `key`, or (if key is numeric) whose uid
// equals it. Malformed lines are skipped.
std::optional<PasswdEntry> find_passwd(std::string_view passwd, std::string_view key);

struct ResolvedUser {
    static constexpr std::size_t max_groups = 64;
    uid_t uid = 0;
    gid_t gid = 0;
    std::array<gid_t, max_groups> groups{};  // supplementary groups (setgroups)
    std::size_t group_count = 0;
    std::string_view home = "/";              // points into the passwd contents
};

// Docker's limit for uids and gids. Above it, 2^32-1 means "unchanged" to setresuid and
// other values are not portable ids.
inline constexpr unsigned max_id = 2147483647;

// Parses a decimal id; nullopt unless all of s is digits and the value is at most max_id.
std::optional<unsigned> parse_id(std::string_view s);

// True for a string of digits whose value is above max_id: an id, but one that is refused.
bool is_out_of_range_id(std::string_view s);

// Resolves `spec` (empty means root). A name that is not in passwd, or a group name that
// is not in group, is an error: returns false and points `error` at a static message.
// Numeric ids need no entry (uid without entry: gid 0, home "/").
bool resolve_user(std::string_view spec, std::string_view passwd, std::string_view group,
                  ResolvedUser& out, const char*& error);

}  // namespace kiln::runtime
