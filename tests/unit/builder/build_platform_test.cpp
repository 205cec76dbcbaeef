#include <catch2/catch.hpp>

#include <map>

#include "builder/build_platform.hpp"
#include "util/error.hpp"

using namespace kiln::builder;

TEST_CASE("only this machine's platform builds", "[builder][platform]") {
    const kiln::image::Platform host = kiln::image::host_platform();
    CHECK(builds_here(host));
    CHECK(build_target_platform("").str() == host.str());
    CHECK(build_target_platform(host.str()).str() == host.str());
    const std::string other = host.architecture == "arm64" ? "linux/amd64" : "linux/arm64";
    CHECK_FALSE(builds_here(kiln::image::parse_platform(other)));
    CHECK_FALSE(builds_here(kiln::image::parse_platform("windows/" + host.architecture)));
    CHECK_THROWS_WITH(build_target_platform(other),
                      Catch::Contains("kiln builds only for this machine's platform " + host.str()) &&
                          Catch::Contains("not " + other));
    CHECK_THROWS_WITH(build_target_platform("linux//x"), Catch::StartsWith("invalid --platform \"linux//x\""));
}

TEST_CASE("the automatic platform ARGs are BuildKit's names with the platforms' parts", "[builder][platform]") {
    kiln::image::Platform build{"amd64", "linux", "", {}, ""};
    kiln::image::Platform target{"arm", "linux", "", {}, "v7"};
    std::map<std::string, std::string> args;
    for (const auto& [name, value] : automatic_platform_args(build, target)) args[name] = value;
    CHECK(args == std::map<std::string, std::string>{{"BUILDPLATFORM", "linux/amd64"},
                                                     {"BUILDOS", "linux"},
                                                     {"BUILDARCH", "amd64"},
                                                     {"BUILDVARIANT", ""},
                                                     {"TARGETPLATFORM", "linux/arm/v7"},
                                                     {"TARGETOS", "linux"},
                                                     {"TARGETARCH", "arm"},
                                                     {"TARGETVARIANT", "v7"}});
}
