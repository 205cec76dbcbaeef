#pragma once
// How the container process, between clone and execve, tells the parent what went wrong.
// It must not allocate (see user.hpp), so the message is built in a fixed buffer.
#include <cstdint>

namespace kiln::runtime {

struct ChildReport {
    enum Kind : std::int32_t { setup = 1, exec = 2 };
    std::int32_t kind = 0;
    std::int32_t exit_code = 0;  // for exec failures: 126 or 127
    char text[1024] = {};

    // Records "what: <strerror(err)>" as a setup failure; returns false for `return r.fail_errno(...)`.
    bool fail_errno(int err, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
    // Records a setup failure without an errno.
    bool fail(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
};

}  // namespace kiln::runtime
