#pragma once
// Named volumes (Docker's "local" driver) kept in the store: <root>/volumes/NAME/_data
// holds the files, <root>/volumes/NAME/volume.json what it was created with. Every change
// takes <root>/volumes/.lock, so concurrent kiln processes never half-create or half-remove
// one: a volume appears by renaming a finished directory into place and goes by renaming
// it away before its files are deleted.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/fd.hpp"

namespace kiln::runtime {

// The label Docker 23+ puts on the volumes it makes for a container (image VOLUME, -v /x):
// `volume prune` removes only these unless -a.
inline constexpr const char* anonymous_volume_label = "com.docker.volume.anonymous";

struct Volume {
    std::string name;
    std::string driver = "local";
    std::int64_t created_ns = 0;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> options;  // -o type=tmpfs,device=tmpfs,o=size=64m
    std::string mountpoint;                      // <root>/volumes/NAME/_data

    bool anonymous() const { return labels.count(anonymous_volume_label) > 0; }
    // -o type=tmpfs: a fresh tmpfs (options "o") in each container instead of _data.
    bool is_tmpfs() const;
    // -o o=bind,device=PATH: the host directory PATH instead of _data.
    std::optional<std::string> bound_device() const;
};

// Docker's rule for local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (so never "/" or a
// ".." component). Throws kiln::Error in Docker's words otherwise.
void validate_volume_name(const std::string& name);

// Checks -o options as the local driver does: keys type, device, o; kiln mounts type=tmpfs
// and o=bind,device=PATH (an existing directory). Throws kiln::Error otherwise.
void validate_volume_options(const std::map<std::string, std::string>& options);

// 64 random hex digits: the name of an anonymous volume, as Docker makes them.
std::string generate_volume_name();

class VolumeStore {
public:
    explicit VolumeStore(const std::string& store_root);

    // The held lock on the store's volumes: create, remove and the callers' in-use checks
    // run under it so a volume is never removed while a container is created over it.
    class Lock {
    public:
        explicit Lock(const VolumeStore& store);

    private:
        UniqueFd fd_;
    };

    // Creates the volume, or returns the existing one of that name as Docker does (an
    // existing one with other options or driver is Docker's conflict error). created: set
    // to whether this call made it. The name is checked first.
    Volume create(const std::string& name, const std::map<std::string, std::string>& labels,
                  const std::map<std::string, std::string>& options, bool* created = nullptr);
    std::optional<Volume> find(const std::string& name) const;
    // find, or kiln::Error "no such volume" in Docker's words.
    Volume get(const std::string& name) const;
    std::vector<Volume> list() const;  // by name
    // Deletes the volume and its files. The caller holds a Lock and has checked that no
    // container uses it.
    void remove(const std::string& name);
    // Bytes of the files in a volume's _data (for prune's reclaimed space).
    std::uint64_t size(const Volume& volume) const;

    // Whether the volume's _data holds nothing (copy-up fills only such a volume).
    bool empty(const Volume& volume) const;
    // Runs fill with the volume's _data directory while holding that volume's own lock,
    // so two containers created at once over one new volume copy into it only once.
    void with_data_locked(const Volume& volume, const std::function<void(const std::string& data_dir)>& fill);

private:
    std::string dir(const std::string& name) const { return root_ + "/" + name; }
    std::string root_;  // <store>/volumes
};

}  // namespace kiln::runtime
