// RUN --mount options after expansion, and kiln build's --secret and --ssh values.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "builder/build_secrets.hpp"
#include "builder/run_mounts.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::builder::CacheSharing;
using kiln::builder::parse_run_mount;
using kiln::builder::RunMountType;

TEST_CASE("run mount options take BuildKit's defaults", "[unit][runmount]") {
    auto cache = parse_run_mount({{"type", "cache"}, {"target", "root/.cache"}}, 0);
    CHECK(cache.type == RunMountType::cache);
    CHECK(cache.target == "/root/.cache");
    CHECK(cache.id == "/root/.cache");
    CHECK(cache.sharing == CacheSharing::shared);
    CHECK_FALSE(cache.readonly);

    auto bind = parse_run_mount({{"type", "bind"}, {"target", "/src"}}, 0);
    CHECK(bind.readonly);
    CHECK(parse_run_mount({{"type", "bind"}, {"target", "/src"}, {"readonly", "false"}}, 0).readonly == false);

    auto secret = parse_run_mount({{"type", "secret"}, {"id", "npmrc"}}, 0);
    CHECK(secret.target == "/run/secrets/npmrc");
    CHECK(secret.mode == 0400u);
    CHECK_FALSE(secret.required);
    auto env_only = parse_run_mount({{"type", "secret"}, {"id", "tok"}, {"env", "TOKEN"}}, 0);
    CHECK(env_only.target.empty());
    CHECK(parse_run_mount({{"type", "secret"}, {"target", "/etc/key.pem"}}, 0).id == "key.pem");

    auto ssh = parse_run_mount({{"type", "ssh"}}, 2);
    CHECK(ssh.id == "default");
    CHECK(ssh.target == "/run/buildkit/ssh_agent.2");

    auto tmpfs = parse_run_mount({{"type", "tmpfs"}, {"target", "/t"}, {"size", "2m"}}, 0);
    CHECK(tmpfs.size == 2u << 20);
    auto locked = parse_run_mount({{"type", "cache"}, {"target", "/c"}, {"sharing", "locked"}, {"mode", "0700"}, {"uid", "7"}}, 0);
    CHECK(locked.sharing == CacheSharing::locked);
    CHECK(locked.mode == 0700u);
    CHECK(locked.uid == 7u);
}

TEST_CASE("run mount options refuse what BuildKit refuses", "[unit][runmount]") {
    using Options = std::map<std::string, std::string>;
    const Options bad[] = {
        {{"type", "volume"}, {"target", "/v"}},
        {{"type", "cache"}, {"target", "/c"}, {"sharing", "sometimes"}},
        {{"type", "cache"}},
        {{"type", "tmpfs"}, {"target", "/"}},
        {{"type", "bind"}, {"target", "/b"}, {"size", "1m"}},
        {{"type", "tmpfs"}, {"target", "/t"}, {"size", "lots"}},
        {{"type", "cache"}, {"target", "/c"}, {"mode", "999"}},
        {{"type", "cache"}, {"target", "/c"}, {"uid", "-1"}},
        {{"type", "secret"}},
        {{"type", "secret"}, {"id", "a"}, {"env", "A=B"}},
        {{"type", "tmpfs"}, {"target", "/t"}, {"from", "stage"}},
    };
    for (const auto& options : bad) {
        INFO(options.begin()->second);
        CHECK_THROWS_AS(parse_run_mount(options, 0), kiln::Error);
    }
}

TEST_CASE("build --secret and --ssh values", "[unit][runmount]") {
    kiln::TempDir dir("/tmp", "kiln-unit-secret-");
    const std::string file = dir.path() + "/s";
    kiln::atomic_write(file, "value");
    auto from_file = kiln::builder::parse_secret_flag("id=x,src=" + file);
    CHECK(from_file.id == "x");
    CHECK(kiln::builder::read_secret(from_file) == "value");

    ::setenv("KILN_UNIT_SECRET", "from-env", 1);
    auto from_env = kiln::builder::parse_secret_flag("id=y,env=KILN_UNIT_SECRET");
    CHECK(kiln::builder::read_secret(from_env) == "from-env");
    auto bare = kiln::builder::parse_secret_flag("id=KILN_UNIT_SECRET");
    CHECK(bare.env == "KILN_UNIT_SECRET");
    ::unsetenv("KILN_UNIT_SECRET");
    CHECK_FALSE(kiln::builder::read_secret(from_env));

    CHECK_THROWS_AS(kiln::builder::parse_secret_flag("id=x,src=" + dir.path() + "/missing"), kiln::Error);
    CHECK_THROWS_AS(kiln::builder::parse_secret_flag("src=" + file + ",env=A"), kiln::Error);
    CHECK_THROWS_AS(kiln::builder::parse_secret_flag("id=x,color=blue"), kiln::Error);
    CHECK_THROWS_AS(kiln::builder::parse_ssh_flag("default=" + file), kiln::Error);  // not a socket
    CHECK_THROWS_AS(kiln::builder::parse_ssh_flag("=x"), kiln::Error);
}
