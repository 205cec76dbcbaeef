// registry-mirrors from kiln's settings: docker.io names go through the mirrors in order.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "harness.hpp"
#include "registry_fixture.hpp"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("FROM busybox pulls through a registry mirror, past one that is down", "[registry][mirror]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer mirror({.fault_proxy = true});
    std::string digest = push_test_image(mirror, "library/busybox:latest");
    mirror.proxy().clear_log();

    TempDir dir("/tmp", "kiln-it-mirror-");
    std::string settings = dir.path() + "/config.json";
    // Port 1 of loopback: nothing listens there, so this mirror fails to connect.
    atomic_write(settings, "{\"registry-mirrors\": [\"http://127.0.0.1:1\", \"http://" + mirror.host() + "\"]}\n");
    ::setenv("KILN_CONFIG", settings.c_str(), 1);
    Kiln kiln;
    atomic_write(dir.path() + "/Dockerfile", "FROM busybox\nRUN echo via-mirror > /m\n");
    auto built = kiln({"build", "-t", "m", dir.path()});
    ::unsetenv("KILN_CONFIG");
    INFO(built.out << built.err);
    REQUIRE(built.exit_code == 0);
    auto inspected = kiln({"image", "inspect", "-f", "{{json .RepoDigests}}", "busybox"});
    CHECK(inspected.out.find(digest) != std::string::npos);
    bool through_mirror = false;
    for (const auto& r : mirror.proxy().log())
        through_mirror = through_mirror || r.path == "/v2/library/busybox/manifests/latest";
    CHECK(through_mirror);
}
