// Self-tests of the registry fixture (registry_fixture.hpp), with curl rather than kiln: if
// these fail, kiln's registry tests cannot be trusted either.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"

using namespace kiln::test;

namespace {

// `curl ARGS... URL`, printing only the HTTP status ("000" when no response came).
std::string http_status(const std::string& url, std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    return run_command(argv).out;
}

}  // namespace

TEST_CASE("a plain registry answers /v2/ with 200 on a port of its own", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    CHECK(reg.registry_port() != 5000);
    CHECK(http_status(reg.url() + "/v2/") == "200");
}

TEST_CASE("two registries run side by side", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer origin, mirror;
    CHECK(origin.host() != mirror.host());
    CHECK(http_status(origin.url() + "/v2/") == "200");
    CHECK(http_status(mirror.url() + "/v2/") == "200");
}

TEST_CASE("a stopped registry leaves nothing listening", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    int port;
    {
        RegistryServer reg;
        port = reg.registry_port();
        REQUIRE(port_open(port));
    }
    CHECK_FALSE(port_open(port));
}
