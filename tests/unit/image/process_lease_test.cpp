#include <catch2/catch.hpp>

#include "image/metadata_db.hpp"
#include "image/process_lease.hpp"
#include "util/fs.hpp"

using namespace kiln;
using namespace kiln::image;

TEST_CASE("a process lease holds layers while its owner lives, and not after", "[image][lease]") {
    TempDir root("/tmp", "kiln-lease-test-");
    MetadataDb db(root.path() + "/kiln.db");
    const Digest held = sha256_of("held"), orphaned = sha256_of("orphaned"), unlocked = sha256_of("unlocked");
    std::string lock_path;
    {
        ProcessLease lease(db, root.path());
        lease.hold(held);
        CHECK(lease.owner().starts_with("process:"));
        lock_path = root.path() + "/leases/" + lease.owner().substr(8);
        CHECK(path_exists(lock_path));

        db.lease_add("process:0000dead", orphaned);  // died, and its lock file is gone too
        atomic_write(root.path() + "/leases/0000cafe", "");
        db.lease_add("process:0000cafe", unlocked);  // died: its lock file is there, unlocked
        db.lease_add("container:abc", unlocked);     // not a process lease: left to its owner
        release_dead_process_leases(db, root.path());
        CHECK(db.leased(held));
        CHECK_FALSE(db.leased(orphaned));
        CHECK(db.lease_owners() == std::vector<std::string>{"container:abc", lease.owner()});
        CHECK_FALSE(path_exists(root.path() + "/leases/0000cafe"));
    }
    CHECK_FALSE(db.leased(held));
    CHECK_FALSE(path_exists(lock_path));
}
