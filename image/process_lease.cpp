#include "image/process_lease.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "image/metadata_db.hpp"
#include "image/staging.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::image {

namespace {

constexpr std::string_view kLeaseDir = "/leases/";
constexpr std::string_view kOwnerPrefix = "process:";

}  // namespace

ProcessLease::ProcessLease(MetadataDb& db, const std::string& store_root) : db_(db) {
    std::string name = random_hex_name();
    mkdir_p(store_root + std::string(kLeaseDir));
    lock_path_ = store_root + std::string(kLeaseDir) + name;
    owner_ = std::string(kOwnerPrefix) + name;
    // Locked before the first lease row exists, so a cleanup never sees a live owner unlocked.
    lock_.reset(::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock_) throw_errno("create lease lock " + lock_path_);
    if (::flock(lock_.get(), LOCK_EX) != 0) throw_errno("lock " + lock_path_);
}

ProcessLease::~ProcessLease() {
    try {
        db_.lease_release(owner_);
    } catch (const Error&) {
        // The lock file stays behind; the next Store open finds it unlocked and drops the rows.
        return;
    }
    ::unlink(lock_path_.c_str());
}

void ProcessLease::hold(const Digest& chain) { db_.lease_add(owner_, chain); }

void release_dead_process_leases(MetadataDb& db, const std::string& store_root) {
    for (const auto& owner : db.lease_owners()) {
        if (!owner.starts_with(kOwnerPrefix)) continue;  // other holders manage their own leases
        std::string path = store_root + std::string(kLeaseDir) + owner.substr(kOwnerPrefix.size());
        UniqueFd lock = try_lock_path(path);  // empty while its owner lives (or when it is gone)
        if (!lock && path_exists(path)) continue;
        db.lease_release(owner);
        ::unlink(path.c_str());
    }
}

}  // namespace kiln::image
