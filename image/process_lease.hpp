#pragma once
// A layer lease held for as long as this process lives (a build in flight): what it holds
// can be neither pruned nor collected. The owner keeps a flock on leases/<name>; when it dies
// without letting go, the next Store open finds the lock free and drops the lease.
#include <string>

#include "util/digest.hpp"
#include "util/fd.hpp"

namespace kiln::image {

class MetadataDb;

class ProcessLease {
public:
    // The owner is "process:<random>"; the lock file is <store_root>/leases/<random>.
    ProcessLease(MetadataDb& db, const std::string& store_root);
    ~ProcessLease();
    ProcessLease(const ProcessLease&) = delete;
    ProcessLease& operator=(const ProcessLease&) = delete;

    // Keeps chain (and so its ancestors) from removal until this lease ends.
    void hold(const Digest& chain);
    const std::string& owner() const { return owner_; }

private:
    MetadataDb& db_;
    std::string lock_path_;
    std::string owner_;
    UniqueFd lock_;
};

// Drops the leases of processes that died holding a ProcessLease.
void release_dead_process_leases(MetadataDb& db, const std::string& store_root);

}  // namespace kiln::image
