#pragma once
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "builder/image_source.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

struct BuildOptions {
    std::string context_dir;
    std::string dockerfile;  // path; empty = <context>/Dockerfile
    std::vector<std::string> tags;
    std::map<std::string, std::string> build_args;
    std::string target;      // stage name; empty = last stage
    bool no_cache = false;
    bool quiet = false;      // only the image ID on stdout
    // BuildKit's entitlements (--allow): a Dockerfile may use RUN --network=host or
    // RUN --security=insecure only where the person running the build grants it.
    bool allow_network_host = false;
    bool allow_security_insecure = false;
    // FROM and COPY --from=IMAGE images not in the store (or all of them, with Always) are
    // pulled through puller; each at most once per build.
    PullPolicy pull = PullPolicy::Missing;
    ImagePuller puller;
};

struct BuildResult {
    Digest image_id;
    int steps = 0;
    int cached_steps = 0;
};

// Builds the Dockerfile into an image in the store and tags it. Progress goes to `progress`
// (one "#N [stage i/n] INSTRUCTION" line per step, then CACHED or DONE). Throws kiln::Error
// (parser::ParseError for Dockerfile problems); a failed step leaves no trace in the store.
BuildResult build(image::Store& store, const BuildOptions& options, std::ostream& progress);

}  // namespace kiln::builder
