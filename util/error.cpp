#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace kiln {

void throw_errno(const std::string& what, int err) {
    throw Error(what + ": " + std::strerror(err));
}

void throw_errno(const std::string& what) { throw_errno(what, errno); }

}  // namespace kiln
