#include "runtime/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <string>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

// Indexed by capability number, as in <linux/capability.h>.
constexpr std::array<std::string_view, 41> cap_names = {
    "CHOWN",          "DAC_OVERRIDE",     "DAC_READ_SEARCH", "FOWNER",        "FSETID",
    "KILL",           "SETGID",           "SETUID",          "SETPCAP",       "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST",  "NET_ADMIN",       "NET_RAW",       "IPC_LOCK",
    "IPC_OWNER",      "SYS_MODULE",       "SYS_RAWIO",       "SYS_CHROOT",    "SYS_PTRACE",
    "SYS_PACCT",      "SYS_ADMIN",        "SYS_BOOT",        "SYS_NICE",      "SYS_RESOURCE",
    "SYS_TIME",       "SYS_TTY_CONFIG",   "MKNOD",           "LEASE",         "AUDIT_WRITE",
    "AUDIT_CONTROL",  "SETFCAP",          "MAC_OVERRIDE",    "MAC_ADMIN",     "SYSLOG",
    "WAKE_ALARM",     "BLOCK_SUSPEND",    "AUDIT_READ",      "PERFMON",       "BPF",
    "CHECKPOINT_RESTORE",
};

}  // namespace

CapMask all_capabilities(int last_cap) {
    CapMask known = last_cap >= 63 ? ~CapMask{0} : (CapMask{1} << (last_cap + 1)) - 1;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return 0;
    CapMask held = static_cast<CapMask>(data[0].permitted) | (static_cast<CapMask>(data[1].permitted) << 32);
    return known & held;
}

CapMask capability_mask(std::span<const int> caps) {
    CapMask mask = 0;
    for (int cap : caps)
        if (cap >= 0 && cap < 64) mask |= CapMask{1} << cap;
    return mask;
}

CapMask docker_default_capabilities() {
    static constexpr int caps[] = {
        CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,     CAP_MKNOD,
        CAP_NET_RAW, CAP_SETGID,      CAP_SETUID,           CAP_SETFCAP,    CAP_SETPCAP,
        CAP_NET_BIND_SERVICE,         CAP_SYS_CHROOT,       CAP_KILL,       CAP_AUDIT_WRITE,
    };
    return capability_mask(caps);
}

std::optional<int> capability_from_name(std::string_view name) {
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string_view key = upper;
    if (key.starts_with("CAP_")) key.remove_prefix(4);
    for (std::size_t i = 0; i < cap_names.size(); ++i)
        if (cap_names[i] == key) return static_cast<int>(i);
    return std::nullopt;
}

std::string normalize_capability(std::string_view name, std::string_view flag) {
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "ALL") return upper;
    auto cap = capability_from_name(upper);
    if (!cap)
        throw Error("invalid " + std::string(flag) + ": unknown capability: \"" +
                    (upper.starts_with("CAP_") ? upper : "CAP_" + upper) + "\"");
    return "CAP_" + std::string(cap_names[static_cast<std::size_t>(*cap)]);
}

CapMask tweak_capabilities(CapMask base, const std::vector<std::string>& add, const std::vector<std::string>& drop,
                           CapMask available) {
    auto has_all = [](const std::vector<std::string>& names) {
        for (const auto& n : names)
            if (n == "ALL") return true;
        return false;
    };
    auto mask_of = [](const std::vector<std::string>& names) {
        CapMask mask = 0;
        for (const auto& n : names)
            if (auto cap = capability_from_name(n)) mask |= CapMask{1} << *cap;
        return mask;
    };
    CapMask caps;
    if (has_all(add))
        caps = available & ~mask_of(drop);
    else if (has_all(drop))
        caps = mask_of(add);
    else
        caps = (base & ~mask_of(drop)) | mask_of(add);
    return caps & available;
}

int last_capability() {
    try {
        return std::stoi(read_file("/proc/sys/kernel/cap_last_cap"));
    } catch (const std::exception&) {
        return CAP_LAST_CAP;  // the kernel headers' idea, if /proc is unreadable
    }
}

bool drop_bounding_set(CapMask keep, int last_cap, ChildReport& report) {
    for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
        if (keep & (CapMask{1} << cap)) continue;
        // EINVAL: a capability this kernel does not have; nothing to drop.
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return report.fail_errno(errno, "drop capability %d from bounding set", cap);
    }
    return true;
}

bool set_capabilities(CapMask caps, ChildReport& report) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; ++i) {
        auto word = static_cast<std::uint32_t>(caps >> (32 * i));
        data[i].effective = word;
        data[i].permitted = word;
        data[i].inheritable = 0;
    }
    if (::syscall(SYS_capset, &header, data) != 0) return report.fail_errno(errno, "capset");
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return report.fail_errno(errno, "clear ambient capabilities");
    return true;
}

}  // namespace kiln::runtime
