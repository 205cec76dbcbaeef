#include <catch2/catch.hpp>

#include "runtime/volume_store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::TempDir;
using kiln::runtime::VolumeStore;

TEST_CASE("volumes are created once, listed by name and removed with their files", "[runtime][volumes]") {
    TempDir root("/tmp", "kiln-volume-test-");
    VolumeStore store(root.path());
    bool created = false;
    auto v = store.create("data", {{"team", "db"}}, {}, &created);
    CHECK(created);
    CHECK(v.mountpoint == root.path() + "/volumes/data/_data");
    CHECK(kiln::path_exists(v.mountpoint));
    CHECK(store.empty(v));
    kiln::atomic_write(v.mountpoint + "/file", "12345");
    CHECK_FALSE(store.empty(v));
    CHECK(store.size(v) == 5);

    // A second create of the name gives the same volume, as Docker does.
    auto again = store.create("data", {}, {}, &created);
    CHECK_FALSE(created);
    CHECK(again.created_ns == v.created_ns);
    CHECK(again.labels.at("team") == "db");

    store.create("cache", {{kiln::runtime::anonymous_volume_label, ""}}, {});
    auto all = store.list();
    REQUIRE(all.size() == 2);
    CHECK(all[0].name == "cache");
    CHECK(all[0].anonymous());
    CHECK_FALSE(all[1].anonymous());

    {
        VolumeStore::Lock lock(store);
        store.remove("data");
    }
    CHECK_FALSE(store.find("data"));
    CHECK_FALSE(kiln::path_exists(v.mountpoint));
    CHECK_THROWS_AS(store.get("data"), kiln::Error);
}

TEST_CASE("volume names and options are checked before anything is made", "[runtime][volumes]") {
    TempDir root("/tmp", "kiln-volume-test-");
    VolumeStore store(root.path());
    for (const char* bad : {"", "a", "..", "../x", "a/b", "/abs", ".hidden", "-dash", "sp ace", "a\nb"}) {
        INFO(bad);
        CHECK_THROWS_AS(store.create(bad, {}, {}), kiln::Error);
    }
    CHECK_THROWS_AS(store.create("ok1", {}, {{"colour", "blue"}}), kiln::Error);
    CHECK_THROWS_AS(store.create("ok2", {}, {{"type", "nfs"}, {"device", ":/x"}}), kiln::Error);
    CHECK_THROWS_AS(store.create("ok3", {}, {{"o", "bind"}, {"device", "/no/such/kiln/dir"}}), kiln::Error);
    CHECK(store.list().empty());

    auto tmpfs = store.create("mem", {}, {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}});
    CHECK(tmpfs.is_tmpfs());
    auto bound = store.create("host", {}, {{"type", "none"}, {"device", "/tmp"}, {"o", "bind"}});
    CHECK(bound.bound_device() == std::optional<std::string>("/tmp"));
    CHECK(kiln::runtime::generate_volume_name().size() == 64);
    CHECK(kiln::runtime::generate_volume_name() != kiln::runtime::generate_volume_name());
}
