#pragma once
// `--device HOST[:CONTAINER[:PERMS]]`: a host device node made again inside the container
// (same type and numbers, the host node's mode and owner, as Docker does) and allowed in
// the container's device policy with PERMS (r, w, m; "rwm" by default).
#include <sys/types.h>

#include <string>

#include "runtime/host_settings.hpp"
#include "runtime/device_policy.hpp"

namespace kiln::runtime {

// The docker CLI's parse: CONTAINER defaults to HOST, and a second part made only of r, w
// and m is PERMS. Throws kiln::Error for a bad PERMS, a relative path or too many parts.
DeviceMapping parse_device(const std::string& text);

struct DeviceNode {
    std::string path;  // inside the container
    mode_t mode = 0;   // S_IFCHR or S_IFBLK and the permission bits
    dev_t rdev = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct GrantedDevice {
    DeviceNode node;
    DeviceRule rule;
};

// Looks at the host node (symlinks followed, as Docker does). Throws kiln::Error if it is
// missing or not a character or block device.
GrantedDevice grant_device(const DeviceMapping& mapping);

}  // namespace kiln::runtime
