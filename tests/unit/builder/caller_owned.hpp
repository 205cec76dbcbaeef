#pragma once
#include <unistd.h>

#include "builder/copy.hpp"

namespace kiln::builder::test {

// COPY gives files to root unless --chown says otherwise; as another user the tests own
// them instead, so they run without root (what they check does not depend on the owner).
inline CopyOptions caller_owned() {
    CopyOptions options;
    if (::geteuid() != 0) {
        options.uid = ::geteuid();
        options.gid = ::getegid();
    }
    return options;
}

}  // namespace kiln::builder::test
