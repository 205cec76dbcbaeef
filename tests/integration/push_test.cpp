// kiln push against a real registry (the fixture's docker-registry behind its request-logging
// proxy), checked from outside with skopeo.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

std::vector<ProxyRequest> blob_writes(RegistryServer& reg) {
    std::vector<ProxyRequest> out;
    for (const auto& r : reg.proxy().log())
        if (r.path.find("/blobs/") != std::string::npos && r.method != "HEAD" && r.method != "GET") out.push_back(r);
    return out;
}

}  // namespace

TEST_CASE("kiln push: skopeo sees the digest kiln printed, a second push uploads no blob", "[registry][push]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    Kiln kiln;
    std::string name = reg.host() + "/team/app:1";
    build_small_image(kiln, name);

    auto first = kiln({"push", name});
    INFO(first.out << first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(first.out.find("The push refers to repository [" + reg.host() + "/team/app]") != std::string::npos);
    CHECK(first.out.find(": Pushed") != std::string::npos);
    std::string digest = pushed_digest(first.out);
    CHECK(!blob_writes(reg).empty());

    check_skopeo_digest(name, digest);

    reg.proxy().clear_log();
    auto again = kiln({"push", name});
    REQUIRE(again.exit_code == 0);
    CHECK(pushed_digest(again.out) == digest);
    CHECK(blob_writes(reg).empty());

    // The same image under another repository of the registry: its blobs are mounted.
    std::string other = reg.host() + "/team/copy:1";
    REQUIRE(kiln({"tag", name, other}).exit_code == 0);
    reg.proxy().clear_log();
    auto copy = kiln({"push", other});
    INFO(copy.out << copy.err);
    REQUIRE(copy.exit_code == 0);
    CHECK(copy.out.find("Mounted from team/app") != std::string::npos);
    bool mounted = false;
    for (const auto& r : blob_writes(reg)) {
        mounted = mounted || r.query.find("mount=") != std::string::npos;
        CHECK(r.method == "POST");  // mounts only: no PATCH or PUT of bytes
    }
    CHECK(mounted);
}

TEST_CASE("kiln push of an image that is not there, or to a registry that fails, exits 1", "[registry][push]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    Kiln kiln;
    auto missing = kiln({"push", reg.host() + "/nothing:1"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("does not exist locally") != std::string::npos);

    std::string name = reg.host() + "/app:1";
    build_small_image(kiln, name);
    reg.proxy().fail(500, "/blobs/uploads/", -1);
    auto failed = kiln({"push", name});
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find(reg.host()) != std::string::npos);
    CHECK(failed.err.find("sha256:") != std::string::npos);
    // And after the registry recovers the push completes.
    reg.proxy().clear();
    CHECK(kiln({"push", name}).exit_code == 0);
}

TEST_CASE("a push whose upload connection drops resumes and completes", "[registry][push]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    Kiln kiln;
    import_base(kiln);
    // 80 MiB of random bytes: above the one-PUT limit, so the blob goes up in PATCH chunks.
    TempDir ctx("/tmp", "kiln-it-push-big-");
    atomic_write(ctx.path() + "/Dockerfile",
                 "FROM localhost/busybox\nRUN head -c 83886080 /dev/urandom > /big\n");
    std::string name = reg.host() + "/big:1";
    REQUIRE(kiln({"build", "-q", "-t", name, ctx.path()}).exit_code == 0);
    auto dropped = [](RegistryServer& r) {
        for (const auto& q : r.proxy().log())
            if (q.action == "drop-request") return true;
        return false;
    };

    // The first push compresses the layer while it uploads, in PATCHes of 16 MiB as they
    // are made: the connection drops inside the first one.
    reg.proxy().drop(FaultProxy::Direction::request, 10ll << 20, "/blobs/uploads/", 1, "PATCH");
    auto pushed = kiln({"push", name});
    INFO(pushed.out << pushed.err);
    REQUIRE(pushed.exit_code == 0);
    CHECK(dropped(reg));
    // What the registry holds is what kiln meant to push: a fresh store pulls and runs it.
    Kiln other;
    auto pulled = other({"pull", name});
    INFO(pulled.err);
    REQUIRE(pulled.exit_code == 0);
    auto size = other({"run", "--rm", name, "sh", "-c", "wc -c < /big"});
    CHECK(trimmed(size.out) == "83886080");

    // The blob the first push kept goes up as a file, in PATCHes of 64 MiB, to a second
    // registry: dropped inside the first one, resumed, and the same manifest as before.
    RegistryServer second({.fault_proxy = true});
    std::string again = second.host() + "/big:1";
    REQUIRE(kiln({"tag", name, again}).exit_code == 0);
    second.proxy().drop(FaultProxy::Direction::request, 20ll << 20, "/blobs/uploads/", 1, "PATCH");
    auto kept = kiln({"push", again});
    INFO(kept.out << kept.err);
    REQUIRE(kept.exit_code == 0);
    CHECK(dropped(second));
    CHECK(pushed_digest(kept.out) == pushed_digest(pushed.out));
}
