#include "runtime/device_mapping.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

namespace kiln::runtime {

namespace {

// Docker's validDeviceMode: one to three of r, w, m, none twice.
bool valid_permissions(const std::string& mode) {
    if (mode.empty() || mode.size() > 3) return false;
    for (std::size_t i = 0; i < mode.size(); ++i) {
        if (mode[i] != 'r' && mode[i] != 'w' && mode[i] != 'm') return false;
        if (mode.find(mode[i], i + 1) != std::string::npos) return false;
    }
    return true;
}

}  // namespace

DeviceMapping parse_device(const std::string& text) {
    auto parts = split_fields(text, ':');
    if (parts.size() > 3) throw Error("invalid device specification: " + text);
    DeviceMapping m;
    m.host = parts[0];
    if (parts.size() >= 2) {
        if (valid_permissions(parts[1]) && parts.size() == 2)
            m.permissions = parts[1];
        else
            m.container = parts[1];
    }
    if (parts.size() == 3) {
        if (!valid_permissions(parts[2])) throw Error("invalid device mode: " + parts[2]);
        m.permissions = parts[2];
    }
    if (m.container.empty()) m.container = m.host;
    if (!m.host.starts_with('/')) throw Error("invalid device specification: " + text + ": " + m.host + " is not an absolute path");
    if (!m.container.starts_with('/'))
        throw Error("invalid device specification: " + text + ": " + m.container + " is not an absolute path");
    m.container = clean_path(m.container);
    return m;
}

GrantedDevice grant_device(const DeviceMapping& m) {
    struct stat st;
    if (::stat(m.host.c_str(), &st) != 0)
        throw Error("error gathering device information while adding custom device \"" + m.host +
                    "\": " + std::strerror(errno));
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        throw Error("error gathering device information while adding custom device \"" + m.host +
                    "\": not a device node");
    GrantedDevice g;
    g.node = {m.container, st.st_mode & (S_IFMT | 07777), st.st_rdev, st.st_uid, st.st_gid};
    g.rule.type = S_ISCHR(st.st_mode) ? DeviceType::character : DeviceType::block;
    g.rule.major = ::major(st.st_rdev);
    g.rule.minor = ::minor(st.st_rdev);
    g.rule.access = 0;
    for (char c : m.permissions) g.rule.access |= c == 'r' ? device_read : c == 'w' ? device_write : device_mknod;
    return g;
}

}  // namespace kiln::runtime
