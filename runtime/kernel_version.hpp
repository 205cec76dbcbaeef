#pragma once
#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

// The running kernel's major.minor (from uname), read once.
KernelVersion running_kernel();

}  // namespace kiln::runtime
