#include "runtime/kernel_version.hpp"

#include <sys/utsname.h>

#include <cstdlib>

namespace kiln::runtime {

KernelVersion running_kernel() {
    static const KernelVersion version = [] {
        utsname u{};
        KernelVersion v;
        if (::uname(&u) == 0) {
            char* end = nullptr;
            v.major = static_cast<unsigned>(std::strtoul(u.release, &end, 10));
            if (end && *end == '.') v.minor = static_cast<unsigned>(std::strtoul(end + 1, nullptr, 10));
        }
        return v;
    }();
    return version;
}

}  // namespace kiln::runtime
