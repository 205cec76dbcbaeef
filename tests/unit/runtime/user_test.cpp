#include <catch2/catch.hpp>

#include <string>

#include "runtime/user.hpp"

using kiln::runtime::ResolvedUser;

namespace {

const std::string passwd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "broken line\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\r\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false";  // no final newline
const std::string group =
    "root:x:0:\n"
    "wheel:x:10:app,other\n"
    "app:x:1000:\n"
    "docker:x:999:other,app\n"
    "nogroup:x:65534:\n";

ResolvedUser resolve(const std::string& spec) {
    ResolvedUser u;
    const char* error = nullptr;
    REQUIRE(kiln::runtime::resolve_user(spec, passwd, group, u, error));
    return u;
}

bool fails(const std::string& spec) {
    ResolvedUser u;
    const char* error = nullptr;
    bool ok = kiln::runtime::resolve_user(spec, passwd, group, u, error);
    return !ok && error != nullptr;
}

}  // namespace

TEST_CASE("parse_id accepts only whole decimal numbers", "[runtime][user]") {
    CHECK(kiln::runtime::parse_id("0") == 0u);
    CHECK(kiln::runtime::parse_id("65534") == 65534u);
    CHECK_FALSE(kiln::runtime::parse_id(""));
    CHECK_FALSE(kiln::runtime::parse_id("12a"));
    CHECK_FALSE(kiln::runtime::parse_id("-1"));
    CHECK_FALSE(kiln::runtime::parse_id("99999999999"));
}

TEST_CASE("find_passwd matches by name or uid and skips junk", "[runtime][user]") {
    auto app = kiln::runtime::find_passwd(passwd, "app");
    REQUIRE(app);
    CHECK(app->uid == 1000);
    CHECK(app->gid == 1000);
    CHECK(app->home == "/home/app");
    auto by_uid = kiln::runtime::find_passwd(passwd, "65534");
    REQUIRE(by_uid);
    CHECK(by_uid->name == "nobody");
    CHECK(by_uid->home == "/nonexistent");
    CHECK_FALSE(kiln::runtime::find_passwd(passwd, "broken line"));
    CHECK_FALSE(kiln::runtime::find_passwd(passwd, "missing"));
    CHECK_FALSE(kiln::runtime::find_passwd("", "root"));
}

TEST_CASE("an empty user spec is root", "[runtime][user]") {
    auto u = resolve("");
    CHECK(u.uid == 0);
    CHECK(u.gid == 0);
    CHECK(u.home == "/root");
    CHECK(u.group_count == 0);
}

TEST_CASE("a user name gets its passwd gid, home and supplementary groups", "[runtime][user]") {
    auto u = resolve("app");
    CHECK(u.uid == 1000);
    CHECK(u.gid == 1000);
    CHECK(u.home == "/home/app");
    REQUIRE(u.group_count == 2);
    CHECK(u.groups[0] == 10);
    CHECK(u.groups[1] == 999);
}

TEST_CASE("numeric ids need no passwd entry", "[runtime][user]") {
    auto u = resolve("4242");
    CHECK(u.uid == 4242);
    CHECK(u.gid == 0);
    CHECK(u.home == "/");
    auto both = resolve("4242:777");
    CHECK(both.uid == 4242);
    CHECK(both.gid == 777);
    auto known = resolve("1000");
    CHECK(known.gid == 1000);
    CHECK(known.home == "/home/app");
}

TEST_CASE("an explicit group replaces the primary group and the supplementary list", "[runtime][user]") {
    auto u = resolve("app:docker");
    CHECK(u.uid == 1000);
    CHECK(u.gid == 999);
    CHECK(u.group_count == 0);
    CHECK(resolve("nobody:10").gid == 10);
    CHECK(resolve("root:nogroup").gid == 65534);
}

TEST_CASE("unknown names are errors", "[runtime][user]") {
    CHECK(fails("ghost"));
    CHECK(fails("app:ghosts"));
    CHECK(fails("ghost:0"));
}

TEST_CASE("missing account files still allow numeric ids and root", "[runtime][user]") {
    ResolvedUser u;
    const char* error = nullptr;
    CHECK(kiln::runtime::resolve_user("", "", "", u, error));
    CHECK(u.uid == 0);
    CHECK(u.home == "/");
    CHECK(kiln::runtime::resolve_user("5:6", "", "", u, error));
    CHECK(u.uid == 5);
    CHECK(u.gid == 6);
    CHECK_FALSE(kiln::runtime::resolve_user("root", "", "", u, error));
}
