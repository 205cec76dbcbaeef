// Redirects from a registry with credentials: a blob sent to another host (a storage
// backend, in production) is fetched there without the registry's Authorization; a manifest
// sent to another host is refused, since its bytes decide what the image is.
#include <catch2/catch.hpp>

#include <algorithm>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

const std::map<std::string, std::string> users = {{"alice", "secret-pw"}};

// A registry with basic auth that kiln is logged in to, and a plain one (another host:port)
// holding the same image, both behind logging proxies.
struct TwoHosts {
    RegistryServer origin{{.htpasswd = users, .fault_proxy = true}};
    RegistryServer elsewhere{{.fault_proxy = true}};
    PullKiln kiln;
    std::string name = origin.host() + "/team/app:1";

    TwoHosts() {
        // make_test_image.py is deterministic: the same image, digest for digest, on both.
        REQUIRE(push_test_image(origin, "team/app:1") == push_test_image(elsewhere, "team/app:1"));
        auto login = kiln({"login", "-u", "alice", "--password-stdin", origin.host()}, "secret-pw\n");
        INFO(login.out << login.err);
        REQUIRE(login.exit_code == 0);
        origin.proxy().clear_log();
        elsewhere.proxy().clear_log();
    }
};

}  // namespace

TEST_CASE("a blob redirected to another host is fetched there without the registry's credentials",
          "[registry][redirect]") {
    REQUIRE_REGISTRY();
    TwoHosts hosts;
    hosts.origin.proxy().redirect("/blobs/sha256:", "http://" + hosts.elsewhere.host(), -1, "GET");

    auto r = hosts.kiln({"pull", hosts.name});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);

    // The registry saw kiln's credentials and sent every blob away...
    int redirected = 0;
    for (const auto& q : hosts.origin.proxy().log())
        if (q.method == "GET" && q.path.find("/blobs/") != std::string::npos) {
            CHECK(q.status == 307);
            CHECK(q.auth_scheme == "Basic");
            ++redirected;
        }
    CHECK(redirected >= 2);  // the config and the layer
    // ...and the other host got those GETs, none with an Authorization header.
    int fetched = 0;
    for (const auto& q : hosts.elsewhere.proxy().log()) {
        INFO(q.method << " " << q.path);
        CHECK(q.path.find("/blobs/sha256:") != std::string::npos);
        CHECK(q.auth_scheme == "");
        fetched += q.method == "GET" && q.status == 200;
    }
    CHECK(fetched == redirected);
    CHECK(hosts.kiln({"image", "inspect", hosts.name}).exit_code == 0);
}

TEST_CASE("a manifest redirected to another host is refused, and nothing is sent there", "[registry][redirect]") {
    REQUIRE_REGISTRY();
    TwoHosts hosts;
    REQUIRE(hosts.kiln({"import", busybox_tarball(), "localhost/base:1"}).exit_code == 0);
    const auto before = snapshot(hosts.kiln);
    hosts.origin.proxy().redirect("/manifests/", "http://" + hosts.elsewhere.host(), -1, "");

    auto r = hosts.kiln({"pull", hosts.name});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("kiln: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("registry " + hosts.origin.host()) != std::string::npos);
    CHECK(r.err.find("redirect") != std::string::npos);
    CHECK(hosts.elsewhere.proxy().log().empty());
    CHECK(snapshot(hosts.kiln) == before);
}
