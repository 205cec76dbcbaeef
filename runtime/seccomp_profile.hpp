#pragma once
// The default seccomp profile, modelled on Docker's: syscalls a container has no business
// making (kernel keyring, module loading, kexec, mount, namespace creation, clock setting,
// bpf, perf, ...) fail with EPERM; clone3 fails with ENOSYS so libc falls back to clone,
// whose namespace flags can be checked.
#include <linux/filter.h>

#include <vector>

#include "runtime/child_report.hpp"

namespace kiln::runtime {

// The profile compiled to a BPF program by libseccomp, once per process (thread safe).
const std::vector<sock_filter>& default_seccomp_program();

// Container side (no allocation): installs `program`. Needs no_new_privs or CAP_SYS_ADMIN.
bool install_seccomp(const std::vector<sock_filter>& program, ChildReport& report);

}  // namespace kiln::runtime
