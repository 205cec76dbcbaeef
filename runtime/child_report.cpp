#include "runtime/child_report.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace kiln::runtime {

bool ChildReport::fail_errno(int err, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    // strerrordesc_np returns a static string: no locale lookup, no allocation.
    const char* desc = ::strerrordesc_np(err);
    if (n >= 0 && static_cast<unsigned>(n) < sizeof text)
        std::snprintf(text + n, sizeof text - static_cast<unsigned>(n), ": %s", desc ? desc : "unknown error");
    kind = setup;
    return false;
}

bool ChildReport::fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    kind = setup;
    return false;
}

}  // namespace kiln::runtime
