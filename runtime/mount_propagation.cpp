#include "runtime/mount_propagation.hpp"

#include <sys/mount.h>

#include <cstdlib>
#include <sstream>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(const std::string& field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) && is_octal(field[i + 2]) &&
            is_octal(field[i + 3])) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

bool holds(const std::string& mount_point, const std::string& path) {
    if (mount_point == "/") return true;
    return path.starts_with(mount_point) && (path.size() == mount_point.size() || path[mount_point.size()] == '/');
}

std::string resolved(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) throw_errno("bind source " + path);
    std::string out(real);
    std::free(real);
    return out;
}

const BindMount* bind_at(const std::vector<BindMount>& binds, const std::string& destination) {
    const BindMount* found = nullptr;
    for (const auto& b : binds)
        if (b.destination == destination) found = &b;  // the last one is on top
    return found;
}

}  // namespace

std::optional<MountEntry> mount_holding(const std::string& path, const std::string& mountinfo) {
    std::optional<MountEntry> best;
    std::istringstream lines(mountinfo);
    std::string line;
    while (std::getline(lines, line)) {
        // id parent major:minor root mount-point options [optional fields...] - fstype ...
        std::istringstream fields(line);
        std::string id, parent, device, root, mount_point, options, field;
        if (!(fields >> id >> parent >> device >> root >> mount_point >> options)) continue;
        MountEntry entry{unescape_octal(mount_point)};
        while (fields >> field && field != "-") {
            if (field.starts_with("shared:")) entry.shared = true;
            if (field.starts_with("master:")) entry.slave = true;
        }
        if (!holds(entry.mount_point, path)) continue;
        if (!best || entry.mount_point.size() >= best->mount_point.size()) best = entry;
    }
    return best;
}

bool PropagationPlan::keeps_host_peers() const { return root_flags != (MS_REC | MS_PRIVATE); }

PropagationPlan plan_propagation(const std::vector<MountPropagation>& propagation, const std::vector<BindMount>& binds,
                                 const std::string& rootfs_mountpoint) {
    PropagationPlan plan;
    plan.root_flags = MS_REC | MS_PRIVATE;
    bool any_shared = false, any_slave = false;
    std::string mountinfo;
    for (const auto& p : propagation) {
        const bool shared = p.flags & MS_SHARED, slave = p.flags & MS_SLAVE;
        if (!shared && !slave) continue;
        const BindMount* bind = bind_at(binds, p.destination);
        if (!bind) continue;
        if (mountinfo.empty()) mountinfo = read_file("/proc/self/mountinfo");
        const std::string source = resolved(bind->source);
        auto mount = mount_holding(source, mountinfo);
        if (!mount) throw Error("path " + source + " is not on any mount");
        if (shared && !mount->shared)
            throw Error("path " + source + " is mounted on " + mount->mount_point + " but it is not a shared mount");
        if (slave && !mount->shared && !mount->slave)
            throw Error("path " + source + " is mounted on " + mount->mount_point +
                        " but it is not a shared or slave mount");
        any_shared = any_shared || shared;
        any_slave = any_slave || slave;
    }
    if (!any_shared && !any_slave) return plan;
    plan.root_flags = MS_REC | (any_shared ? MS_SHARED : MS_SLAVE);
    // With peers kept, a mount made on a shared mount would appear on the host too: the
    // rootfs goes on a mount of the namespace's own.
    auto parent = mount_holding(resolved(rootfs_mountpoint), mountinfo);
    if (!parent) throw Error("the rootfs " + rootfs_mountpoint + " is not on any mount");
    plan.private_parent = parent->mount_point;
    return plan;
}

}  // namespace kiln::runtime
