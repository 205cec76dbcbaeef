#pragma once
#include <stdexcept>
#include <string>

namespace kiln {

// The one exception type a user sees: its message must say what went wrong and, where it
// can, what to do about it. cli/ catches it once and exits 125.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An Error carrying errno's text: "what: strerror(errno)".
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace kiln
