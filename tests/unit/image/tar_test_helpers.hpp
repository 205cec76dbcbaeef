#pragma once
// Shared by the layer tar tests.
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "util/fd.hpp"

namespace kiln::test {

// A file descriptor positioned at the start of the given bytes (a memfd).
inline UniqueFd bytes_fd(const std::string& data) {
    UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
    REQUIRE(fd);
    REQUIRE(::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
    return fd;
}

}  // namespace kiln::test
