#pragma once
#include <cstdio>
#include <cstdlib>

namespace kiln::fuzz {

// A broken invariant is reported like a crash, so libFuzzer saves and minimizes the input.
inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "kiln fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

}  // namespace kiln::fuzz
