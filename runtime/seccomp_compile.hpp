#pragma once
// SeccompProfile → classic BPF program, through libseccomp, for one container's
// capabilities on the running kernel; and installing it in the container process.
#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "runtime/capabilities.hpp"
#include "runtime/child_report.hpp"
#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

// Compiles `profile` for the arches it names (native first), keeping the groups whose
// includes/excludes hold for `effective_caps`, the arch and uname's kernel version.
// Unless the default action allows, the program starts with a stub that returns ENOSYS for
// any syscall number above the highest the profile names on that arch (see
// seccomp_syscall_ceilings), so a libc newer than the profile falls back to older calls
// instead of failing with EPERM. Throws kiln::Error if libseccomp refuses a rule or the
// program exceeds the kernel's 4096 instructions.
std::vector<sock_filter> compile_seccomp(const SeccompProfile& profile, CapMask effective_caps);

struct SyscallCeiling {
    std::uint32_t arch = 0;     // libseccomp's SCMP_ARCH_* token
    std::uint32_t highest = 0;  // as seccomp_data.nr carries it (x32: with __X32_SYSCALL_BIT)
    bool operator==(const SyscallCeiling&) const = default;
};

// Per arch of the filter, the highest syscall number of the applicable groups that
// libseccomp knows; arches where it knows none are left out.
std::vector<SyscallCeiling> seccomp_syscall_ceilings(const SeccompProfile& profile, CapMask effective_caps);

// Docker's default profile for Docker's default capabilities, compiled once per process
// (thread safe).
const std::vector<sock_filter>& default_seccomp_program();
// Docker's default profile for other capabilities (--cap-add/--cap-drop): its
// capability-conditional rules follow the set, as the Docker daemon compiles it.
std::vector<sock_filter> default_seccomp_program_for(CapMask effective_caps);

// Container side (no allocation): installs `program`. Needs no_new_privs or CAP_SYS_ADMIN.
bool install_seccomp(const std::vector<sock_filter>& program, ChildReport& report);

}  // namespace kiln::runtime
