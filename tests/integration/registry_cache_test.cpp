// The build cache shared through a registry: a second machine (here a second, empty store)
// rebuilds an unchanged Dockerfile with every step CACHED and the same image ID.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

constexpr const char* kDockerfile = R"(FROM localhost/busybox AS tools
RUN echo tool-$RANDOM > /tool
FROM localhost/busybox
RUN echo first > /first
COPY --from=tools /tool /tool
RUN cp /tool /copy && echo final > /final
ENV MODE=shared
CMD ["cat", "/copy"]
)";

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Same base image ID in both stores, as two runners pulling one base would have.
void share_base(const Kiln& from, const Kiln& to, const std::string& dir) {
    import_base(from);
    REQUIRE(from({"save", "-o", dir + "/base.tar", "localhost/busybox"}).exit_code == 0);
    REQUIRE(to({"load", "-i", dir + "/base.tar"}).exit_code == 0);
}

}  // namespace

TEST_CASE("two stores converge on one image through --cache-to and --cache-from", "[registry][build-cache]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    Kiln first, second;
    TempDir ctx("/tmp", "kiln-regcache-");
    atomic_write(ctx.path() + "/Dockerfile", kDockerfile);
    share_base(first, second, ctx.path());
    std::string cache = "type=registry,ref=" + reg.host() + "/app:buildcache,mode=max";
    std::string image = reg.host() + "/app:1";

    auto built = first({"build", "-q", "-t", image, "--cache-to", cache, ctx.path()});
    REQUIRE(built.exit_code == 0);
    std::string id = trimmed(built.out);

    auto rebuilt = second({"build", "-t", image, "--cache-from", cache, ctx.path()});
    INFO(rebuilt.out << rebuilt.err);
    REQUIRE(rebuilt.exit_code == 0);
    CHECK(count(rebuilt.out, "CACHED") == 6);  // every step but the two FROMs
    CHECK(rebuilt.out.find(id.substr(7, 12)) != std::string::npos);
    CHECK(second({"images", "-q", "--no-trunc", image}).out.find(id) != std::string::npos);
    // The RUN did not run again: the random tool is the first machine's.
    auto a = first({"run", "--rm", image});
    auto b = second({"run", "--rm", image});
    CHECK(a.exit_code == 0);
    CHECK(a.out == b.out);
}

TEST_CASE("mode=min exports the target stage only, so other stages build again", "[registry][build-cache]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg;
    Kiln first, second;
    TempDir ctx("/tmp", "kiln-regcache-");
    atomic_write(ctx.path() + "/Dockerfile", kDockerfile);
    share_base(first, second, ctx.path());
    std::string ref = "type=registry,ref=" + reg.host() + "/app:min";
    REQUIRE(first({"build", "-t", "x", "--cache-to", ref, ctx.path()}).exit_code == 0);
    auto rebuilt = second({"build", "-t", "x", "--cache-from", ref, ctx.path()});
    INFO(rebuilt.out << rebuilt.err);
    REQUIRE(rebuilt.exit_code == 0);
    // The tools stage runs again and makes another /tool, so the final stage misses from the
    // COPY on; its first RUN, before the COPY, is the target stage's and comes from the cache.
    CHECK(count(rebuilt.out, "CACHED") < 6);
    CHECK(count(rebuilt.out, "CACHED") == 1);
    CHECK(rebuilt.out.find("RUN echo first > /first\n#4 CACHED") != std::string::npos);
}

TEST_CASE("a missing cache is a warning and a failed export fails the build", "[registry][build-cache]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg;
    Kiln kiln;
    import_base(kiln);
    TempDir ctx("/tmp", "kiln-regcache-");
    atomic_write(ctx.path() + "/Dockerfile", "FROM localhost/busybox\nRUN echo hi > /hi\n");

    auto missing = kiln({"build", "--cache-from", "type=registry,ref=" + reg.host() + "/none:cache", ctx.path()});
    CHECK(missing.exit_code == 0);
    CHECK(missing.err.find("not found in the registry") != std::string::npos);

    auto bad = kiln({"build", "--cache-to", "type=local,dest=/tmp/x", ctx.path()});
    CHECK(bad.exit_code == 125);
    CHECK(bad.err.find("type \"local\" is not supported") != std::string::npos);

    // Nothing listens on port 1 of loopback.
    auto unreachable = kiln({"build", "--cache-to", "type=registry,ref=127.0.0.1:1/x:c", ctx.path()});
    CHECK(unreachable.exit_code == 1);
    CHECK(unreachable.err.find("exporting build cache") != std::string::npos);
    auto ignored = kiln({"build", "--cache-to", "type=registry,ref=127.0.0.1:1/x:c,ignore-error=true", ctx.path()});
    CHECK(ignored.exit_code == 0);
}
