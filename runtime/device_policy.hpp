#pragma once
// Which device nodes a container may create (mknod) and open, as an ordered list of
// rules in the devices cgroup's vocabulary ("c 1:3 rwm"). Enforced by the v1 devices
// controller and, on cgroup2, by a BPF device program (device_filter.hpp).
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::runtime {

enum class DeviceType : char { all = 'a', block = 'b', character = 'c' };

// What a rule grants, as bit flags.
constexpr unsigned device_read = 1, device_write = 2, device_mknod = 4;
constexpr unsigned device_rwm = device_read | device_write | device_mknod;

struct DeviceRule {
    static constexpr std::int64_t any = -1;  // the "*" of a major or minor number

    DeviceType type = DeviceType::all;
    std::int64_t major = any;
    std::int64_t minor = any;
    unsigned access = device_rwm;
    bool allow = true;

    // "c 1:3 rwm", the line the v1 devices.allow / devices.deny files take.
    std::string str() const;
    bool operator==(const DeviceRule&) const = default;
};

// Everything not allowed is denied; a later rule overrides an earlier one where both
// match (so a `--device` addition can widen, and a deny rule narrow, the defaults).
struct DevicePolicy {
    std::vector<DeviceRule> rules;

    // Docker's default set (runc's built-in allow list, which Docker relies on): mknod of
    // any node, and read/write only of the harmless ones.
    static DevicePolicy docker_default();
    // --privileged: every device.
    static DevicePolicy allow_all();

    // Parses and appends a rule in devices-cgroup syntax, as --device-cgroup-rule takes
    // it ("c 10:200 rwm", "b *:* m", "a"). Throws kiln::Error on bad syntax.
    void add(const std::string& rule_text);

    // Whether the policy grants `access` on a device: the reference semantics the cgroup
    // mechanisms implement, for tests and for callers that need to ask.
    bool allows(DeviceType type, std::int64_t major, std::int64_t minor, unsigned access) const;
};

}  // namespace kiln::runtime
