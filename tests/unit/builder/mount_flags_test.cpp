#include <catch2/catch.hpp>

#include "builder/mount_flags.hpp"
#include "util/error.hpp"

using kiln::builder::MountType;
using kiln::builder::parse_mount_flag;
using kiln::builder::parse_volume_flag;
using kiln::builder::parse_volumes_from;

TEST_CASE("run -v reads a host path as a bind and a name as a volume", "[builder][mounts]") {
    auto bind = parse_volume_flag("/srv/data/:/data//x:ro");
    CHECK(bind.type == MountType::bind);
    CHECK(bind.source == "/srv/data");
    CHECK(bind.destination == "/data/x");
    CHECK(bind.readonly);
    CHECK(bind.mode == "ro");
    CHECK(bind.from_volume_flag);

    auto volume = parse_volume_flag("cache:/var/cache:nocopy");
    CHECK(volume.type == MountType::volume);
    CHECK(volume.source == "cache");
    CHECK(volume.nocopy);
    CHECK_FALSE(volume.readonly);

    auto anonymous = parse_volume_flag("/scratch");
    CHECK(anonymous.type == MountType::volume);
    CHECK(anonymous.source.empty());
    CHECK(anonymous.destination == "/scratch");
}

TEST_CASE("run -v takes propagation and SELinux labels as Docker does", "[builder][mounts]") {
    for (const char* p : {"shared", "slave", "private", "rshared", "rslave", "rprivate"}) {
        auto m = parse_volume_flag(std::string("/srv:/srv:") + p);
        CHECK(m.propagation == p);
    }
    auto labelled = parse_volume_flag("/srv:/srv:ro,Z,rslave");
    CHECK(labelled.readonly);
    CHECK(labelled.propagation == "rslave");
    CHECK(parse_volume_flag("vol:/v:z").mode == "z");
}

TEST_CASE("run -v refuses malformed values", "[builder][mounts]") {
    for (const char* bad : {"", ":", "/a:", ":/b", "/a:/b:ro:x", "/a:/b:rw,ro", "/a:/b:bogus", "/a:relative",
                            "/a:/", "vol:/b:shared", "/a:/b:nocopy", "/a:/b:z,Z", "a/b:/c", "..:/c", "x:/c",
                            "../etc:/c", "/x:rw"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_volume_flag(bad), kiln::Error);
    }
}

TEST_CASE("run --mount reads Docker's CSV with its aliases", "[builder][mounts]") {
    auto bind = parse_mount_flag("type=bind,src=/,dst=/host,readonly,bind-propagation=rshared");
    CHECK(bind.type == MountType::bind);
    CHECK(bind.source == "/");
    CHECK(bind.destination == "/host");
    CHECK(bind.readonly);
    CHECK(bind.propagation == "rshared");
    CHECK_FALSE(bind.from_volume_flag);
    CHECK(bind.mode.empty());

    auto volume = parse_mount_flag("source=data,destination=/data,volume-nocopy,volume-label=a=b,ro=false");
    CHECK(volume.type == MountType::volume);  // the default type
    CHECK(volume.source == "data");
    CHECK(volume.nocopy);
    CHECK_FALSE(volume.readonly);
    CHECK(volume.volume_labels.at("a") == "b");

    auto quoted = parse_mount_flag("\"type=volume\",target=/q");
    CHECK(quoted.destination == "/q");
    CHECK(quoted.source.empty());

    auto tmpfs = parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770");
    CHECK(tmpfs.type == MountType::tmpfs);
    CHECK(tmpfs.tmpfs_options == "size=67108864,mode=1770");
    CHECK(parse_mount_flag("type=tmpfs,target=/t,readonly").tmpfs_options == "ro");
}

TEST_CASE("run --mount refuses malformed values", "[builder][mounts]") {
    for (const char* bad : {"type=bind,target=/x",                      // no source
                            "type=bind,source=/no/such/kiln/dir,target=/x",
                            "type=bind,source=relative,target=/x",
                            "type=volume,source=a/b,target=/x",
                            "type=volume,source=..,target=/x",
                            "type=tmpfs,source=x,target=/x",
                            "type=volume,source=v",                     // no target
                            "type=volume,target=relative",
                            "type=nfs,target=/x",
                            "type=bind,source=/,target=/x,volume-nocopy",
                            "type=volume,target=/x,bind-propagation=shared",
                            "type=volume,target=/x,tmpfs-size=1m",
                            "type=bind,source=/,target=/x,bind-propagation=sideways",
                            "type=tmpfs,target=/x,tmpfs-mode=999",
                            "type=tmpfs,target=/x,tmpfs-size=huge",
                            "type=volume,target=/x,readonly=maybe",
                            "type=volume,target=/x,colour=blue",
                            "type=volume,target",
                            "type=volume,target=/x,volume-driver=nfs",
                            "type=volume,target=/x,volume-opt=type=nfs",
                            "\"type=volume,target=/x"}) {
        INFO(bad);
        CHECK_THROWS_AS(parse_mount_flag(bad), kiln::Error);
    }
}

TEST_CASE("run --volumes-from takes an optional ro or rw", "[builder][mounts]") {
    CHECK(parse_volumes_from("web") == std::pair<std::string, std::string>{"web", ""});
    CHECK(parse_volumes_from("web:ro").second == "ro");
    CHECK(parse_volumes_from("web:rw").second == "rw");
    CHECK_THROWS_AS(parse_volumes_from("web:rx"), kiln::Error);
    CHECK_THROWS_AS(parse_volumes_from(":ro"), kiln::Error);
    CHECK_THROWS_AS(parse_volumes_from("a:ro:rw"), kiln::Error);
}
