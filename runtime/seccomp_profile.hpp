#pragma once
// A seccomp profile in Docker's model (the JSON of `--security-opt seccomp=FILE`): an action
// for every syscall not listed, and groups of syscall names with an action, optional
// argument conditions, and conditions on the container's capabilities, the architecture and
// the kernel version that decide whether the group applies at all. Docker's own default
// profile is built in; seccomp_json.hpp reads profiles, seccomp_compile.hpp compiles them.
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/capabilities.hpp"

namespace kiln::runtime {

// SCMP_ACT_KILL is the same action as SCMP_ACT_KILL_THREAD.
enum class SeccompAction { kill_thread, kill_process, trap, errno_return, trace, allow, log };

enum class SeccompOp { not_equal, less, less_equal, equal, greater_equal, greater, masked_equal };

struct SeccompArg {
    unsigned index = 0;  // 0..5
    std::uint64_t value = 0;
    std::uint64_t value_two = 0;  // with masked_equal: (arg & value) == value_two
    SeccompOp op = SeccompOp::equal;
    bool operator==(const SeccompArg&) const = default;
};

struct KernelVersion {
    unsigned major = 0, minor = 0;
    auto operator<=>(const KernelVersion&) const = default;
};

// Docker's semantics: a group applies when the container holds *all* of includes.caps, the
// arch is one of includes.arches (if any) and the kernel is at least includes.min_kernel;
// and it holds *none* of excludes.caps, the arch is not in excludes.arches and the kernel is
// older than excludes.min_kernel.
struct SeccompCondition {
    CapMask caps = 0;
    std::vector<std::string> arches;  // Docker's names: "amd64", "x86", "x32", "arm64", ...
    std::optional<KernelVersion> min_kernel;
    bool operator==(const SeccompCondition&) const = default;
};

struct SeccompRule {
    std::vector<std::string> names;
    SeccompAction action = SeccompAction::allow;
    std::optional<std::uint32_t> errno_ret;  // errno_return and trace only; EPERM if absent
    // Conditions on distinct arguments must all hold; several on one argument are
    // alternatives (Docker and runc add one rule per condition then).
    std::vector<SeccompArg> args;
    SeccompCondition includes, excludes;
    bool operator==(const SeccompRule&) const = default;
};

struct SeccompArchMapEntry {
    std::string architecture;  // "SCMP_ARCH_X86_64"
    std::vector<std::string> sub_architectures;
    bool operator==(const SeccompArchMapEntry&) const = default;
};

struct SeccompProfile {
    SeccompAction default_action = SeccompAction::errno_return;
    std::optional<std::uint32_t> default_errno_ret;
    // The arches the filter covers: `architectures` when given, else the arch_map entry of
    // the native arch with its sub-architectures, else the native arch alone.
    std::vector<std::string> architectures;
    std::vector<SeccompArchMapEntry> arch_map;
    std::vector<SeccompRule> syscalls;
    bool operator==(const SeccompProfile&) const = default;
};

// Docker's default profile (moby profiles/seccomp/default.json), written out by hand.
const SeccompProfile& docker_default_seccomp_profile();

// Architecture names as the two notations spell them: libseccomp's "SCMP_ARCH_X86_64" in
// `architectures`/`archMap`, Docker's "amd64" in includes/excludes.
struct SeccompArchName {
    std::string_view scmp, docker;
};
std::span<const SeccompArchName> seccomp_arch_names();
std::optional<std::string_view> docker_arch_name(std::string_view scmp_arch);  // nullopt if unknown
bool is_docker_arch_name(std::string_view name);

}  // namespace kiln::runtime
