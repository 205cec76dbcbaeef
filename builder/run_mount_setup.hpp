#pragma once
// What a RUN's --mount flags put into its container: binds of the context, of a stage or
// an image (read-only, or over a throwaway upper dir with rw), cache directories, tmpfs,
// secrets and ssh agent sockets. Everything made for one RUN is undone when it ends.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/build_secrets.hpp"
#include "builder/cache_mounts.hpp"
#include "builder/copy.hpp"
#include "builder/run_mounts.hpp"
#include "builder/source_tree.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"

namespace kiln::image {
class Store;
}
namespace kiln::runtime {
struct ContainerSpec;
}

namespace kiln::builder {

// A stage or image named by from=, as the builder resolved it.
struct MountFrom {
    std::optional<Digest> chain;  // its top layer
    std::string key;              // what names its content in a cache key
};

struct RunMountInputs {
    image::Store& store;
    std::string context_dir;
    const SourceTree& context_tree;
    ExcludeFn excluded;
    std::map<std::string, MountFrom> from;  // by the from= value
    const std::map<std::string, SecretSource>& secrets;
    const std::map<std::string, std::string>& ssh;  // id → socket
};

// Throws kiln::Error for a source outside its tree, one that does not exist, and a
// required secret or ssh id the build was not given.
void check_run_mounts(const std::vector<RunMountSpec>& specs, const RunMountInputs& inputs);

// The content that binds read, for the RUN's cache key (as BuildKit: a changed context
// file under a bind misses); nullopt when no bind reads anything.
std::optional<Digest> run_mount_sources_digest(const std::vector<RunMountSpec>& specs, const RunMountInputs& inputs);

class AttachedMount;

class PreparedRunMounts {
public:
    // parent: the image the RUN runs on, to know which mount points the runtime creates.
    PreparedRunMounts(const std::vector<RunMountSpec>& specs, const RunMountInputs& inputs, const SourceTree& parent);
    ~PreparedRunMounts();
    PreparedRunMounts(const PreparedRunMounts&) = delete;
    PreparedRunMounts& operator=(const PreparedRunMounts&) = delete;

    void apply_to(runtime::ContainerSpec& spec) const;
    // After the RUN: drops the empty files and directories the runtime made in the layer
    // as mount points, and the missing parents made for them (BuildKit's stub cleaner
    // leaves none of them either); what the RUN put there stays.
    void remove_stubs(const std::string& upper_dir) const;

private:
    struct Bind {
        std::string source, target;
        bool readonly;
    };
    std::string host_source(const RunMountSpec& spec, const RunMountInputs& inputs);
    void add_bind(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent);
    void add_cache(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent);
    void add_secret(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent);
    void add_ssh(const RunMountSpec& spec, const RunMountInputs& inputs, const SourceTree& parent);
    void note_stubs(const std::string& target, const SourceTree& parent);
    std::string scratch_path(const RunMountInputs& inputs);

    // Declared before the mounts: destroyed after they are unmounted.
    std::unique_ptr<TempDir> scratch_;
    std::unique_ptr<TempDir> secrets_dir_;
    std::vector<std::unique_ptr<AttachedMount>> mounts_;
    std::vector<std::unique_ptr<CacheMountLease>> leases_;
    std::map<std::string, std::string> views_;  // from= value → its mounted root
    std::vector<Bind> binds_;
    std::vector<RunMountSpec> tmpfs_;
    std::vector<std::string> env_;
    std::vector<std::string> stubs_;  // deepest first, relative to the rootfs
    int scratch_count_ = 0;
};

}  // namespace kiln::builder
