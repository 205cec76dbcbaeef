#pragma once
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "builder/build_secrets.hpp"
#include "builder/cache_artifact.hpp"
#include "builder/image_source.hpp"
#include "builder/run_settings.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

// A build cache from elsewhere (--cache-from: a registry), asked when the local cache misses.
class CacheSource {
public:
    virtual ~CacheSource() = default;
    virtual std::optional<CachedStep> find(const Digest& key) = 0;
    // Makes the layer chain of diff_ids (bottom first) present in the store, downloading the
    // layers it lacks; false when this source does not carry all of them.
    virtual bool fetch_layers(image::Store& store, const std::vector<Digest>& diff_ids) = 0;
};

struct BuildOptions {
    std::string context_dir;
    std::string dockerfile;  // path; empty = <context>/Dockerfile
    std::vector<std::string> tags;
    std::map<std::string, std::string> build_args;
    std::string target;      // stage name; empty = last stage
    std::string platform;    // --platform; empty = this machine's (the only one kiln builds for)
    bool no_cache = false;
    bool quiet = false;      // only the image ID on stdout
    // The fd of the terminal the progress goes to, for BuildKit's live view (--progress=tty,
    // or auto on a terminal); -1: the plain lines.
    int progress_terminal = -1;
    // --explain-cache: each step that misses says which of its inputs changed.
    bool explain_cache = false;
    // BuildKit's entitlements (--allow): a Dockerfile may use RUN --network=host or
    // RUN --security=insecure only where the person running the build grants it.
    bool allow_network_host = false;
    bool allow_security_insecure = false;
    std::vector<std::shared_ptr<CacheSource>> cache_sources;  // tried in order after the local cache
    // FROM and COPY --from=IMAGE images not in the store (or all of them, with Always) are
    // pulled through puller; each at most once per build.
    PullPolicy pull = PullPolicy::Missing;
    ImagePuller puller;
    // -f -: the Dockerfile's text (read from stdin), instead of reading `dockerfile`.
    std::optional<std::string> dockerfile_text;
    // --label: set in the final image's config (as BuildKit: no history entry).
    std::map<std::string, std::string> labels;
    // --no-cache-filter: stages (names or indices) whose steps never use the cache.
    std::vector<std::string> no_cache_stages;
    // RUN steps' defaults: --network, --add-host, --shm-size, --ulimit.
    RunSettings run;
    // --secret and --ssh: what RUN --mount=type=secret|ssh may mount, by id.
    std::map<std::string, SecretSource> secrets;
    std::map<std::string, std::string> ssh_sockets;
    // --jobs: how many stages may build at once (independent ones build in parallel);
    // 0: one per core.
    int jobs = 0;
    // SOURCE_DATE_EPOCH: history and config times are this instant, and layer files newer
    // than it are written with it (BuildKit's rewrite-timestamp), so a build is reproducible.
    std::optional<std::int64_t> source_date_epoch;
    // The context is a scratch directory (extracted from a tarball): remembering its
    // file digests would only fill the store.
    bool context_is_scratch = false;
};

struct BuildResult {
    Digest image_id;
    int steps = 0;
    int cached_steps = 0;
    // Every step that produced a config, in build order, for --cache-to; target_steps are
    // those of the target stage (mode=min exports only them).
    std::vector<CachedStep> exported_steps;
    std::vector<CachedStep> target_steps;
};

// Builds the Dockerfile into an image in the store and tags it. Progress goes to `progress`
// (one "#N [stage i/n] INSTRUCTION" line per step, then CACHED or DONE). Throws kiln::Error
// (parser::ParseError for Dockerfile problems); a failed step leaves no trace in the store.
BuildResult build(image::Store& store, const BuildOptions& options, std::ostream& progress);

}  // namespace kiln::builder
