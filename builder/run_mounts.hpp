#pragma once
// RUN --mount (BuildKit's mount types): the typed form of one mount's options, checked
// again after build-arg expansion (the parser checks only what it can see unexpanded).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiln::builder {

enum class RunMountType { bind, cache, tmpfs, secret, ssh };
enum class CacheSharing { shared, private_, locked };

struct RunMountSpec {
    RunMountType type = RunMountType::bind;
    std::string target;  // absolute, cleaned; secret and ssh fill in BuildKit's defaults
    std::string id;      // cache (default: target), secret, ssh (default "default")
    std::string source;  // bind and cache with from: a path in the context or the `from` tree
    std::string from;    // a stage name or index, or an image reference
    CacheSharing sharing = CacheSharing::shared;
    bool readonly = false;  // bind: true unless rw
    bool required = false;  // secret and ssh
    std::optional<std::uint32_t> mode;
    std::uint32_t uid = 0, gid = 0;
    std::optional<std::uint64_t> size;  // tmpfs, bytes
    std::string env;                    // secret: also (or only) an environment variable
};

// Throws kiln::Error with a one-line message (the caller adds file:line:col). ssh_index
// numbers the ssh mounts of a RUN for their default targets (/run/buildkit/ssh_agent.N).
RunMountSpec parse_run_mount(const std::map<std::string, std::string>& options, int ssh_index);

// What the mount contributes to the RUN's cache key: its kind and shape, never the
// content of a secret, a cache or an ssh agent.
std::string run_mount_key_text(const RunMountSpec& spec);

const char* run_mount_type_name(RunMountType type);

}  // namespace kiln::builder
