#pragma once
#include <string>

#include "cli/commands.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::cli {

struct PushFlags {
    bool quiet = false;     // -q: print only the full name of what was pushed
    bool all_tags = false;  // -a: every local tag of the repository
    std::string compression;  // "", "gzip" or "zstd"
};

// `docker push NAME` as docker prints it, for `kiln push` and `kiln build --push`. Returns
// the exit code: 0, or 1 after printing the error (one line naming registry and blob) to
// stderr, as docker's CLI does for a failed push.
int push_named(const GlobalOptions& global, image::Store& store, const std::string& name, const PushFlags& flags);

}  // namespace kiln::cli
