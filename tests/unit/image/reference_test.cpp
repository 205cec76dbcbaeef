#include "image/reference.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "util/error.hpp"

using kiln::image::parse_reference;
using kiln::image::Reference;

namespace {
const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
}

TEST_CASE("reference: docker hub names are normalized", "[reference]") {
    Reference r = parse_reference("busybox");
    CHECK(r.domain == "docker.io");
    CHECK(r.path == "library/busybox");
    CHECK(r.tag == "latest");
    CHECK_FALSE(r.digest);
    CHECK(r.str() == "docker.io/library/busybox:latest");
    CHECK(r.familiar() == "busybox:latest");
    CHECK(r.repository() == "docker.io/library/busybox");
    CHECK(r.familiar_repository() == "busybox");

    CHECK(parse_reference("foo/bar:1.0").str() == "docker.io/foo/bar:1.0");
    CHECK(parse_reference("foo/bar:1.0").familiar() == "foo/bar:1.0");
    CHECK(parse_reference("library/busybox").familiar() == "busybox:latest");
    CHECK(parse_reference("docker.io/busybox").str() == "docker.io/library/busybox:latest");
    CHECK(parse_reference("index.docker.io/library/busybox:1").str() == "docker.io/library/busybox:1");
    CHECK(parse_reference("docker.io/library/a/b").familiar() == "library/a/b:latest");
    CHECK(parse_reference("ubuntu:22.04").familiar() == "ubuntu:22.04");
    CHECK(parse_reference("a_b__c-d--e.f:T_a.g-1").path == "library/a_b__c-d--e.f");
}

TEST_CASE("reference: other registries keep their domain", "[reference]") {
    Reference r = parse_reference("localhost/busybox");
    CHECK(r.domain == "localhost");
    CHECK(r.path == "busybox");
    CHECK(r.str() == "localhost/busybox:latest");
    CHECK(r.familiar() == "localhost/busybox:latest");

    r = parse_reference("localhost:5000/a/b:tag");
    CHECK(r.domain == "localhost:5000");
    CHECK(r.path == "a/b");
    CHECK(r.tag == "tag");
    CHECK(r.familiar() == "localhost:5000/a/b:tag");

    CHECK(parse_reference("ghcr.io/owner/img").str() == "ghcr.io/owner/img:latest");
    CHECK(parse_reference("registry.example.com:443/x").domain == "registry.example.com:443");
    CHECK(parse_reference("[::1]:5000/x:y").domain == "[::1]:5000");
    CHECK(parse_reference("Registry/x").domain == "Registry");  // upper case: a host, like docker
    CHECK(parse_reference("myhost:5000/x").path == "x");
}

TEST_CASE("reference: digests", "[reference]") {
    Reference r = parse_reference("busybox@sha256:" + kHex);
    CHECK(r.tag.empty());
    REQUIRE(r.digest);
    CHECK(r.digest->hex() == kHex);
    CHECK(r.str() == "docker.io/library/busybox@sha256:" + kHex);
    CHECK(r.familiar() == "busybox@sha256:" + kHex);

    r = parse_reference("localhost:5000/a:v1@sha256:" + kHex);
    CHECK(r.tag == "v1");
    CHECK(r.str() == "localhost:5000/a:v1@sha256:" + kHex);
}

TEST_CASE("reference: invalid references are rejected with a clear message", "[reference]") {
    const std::vector<std::string> cases = {"", "Busybox", "busybox:", ":tag", "busy box", "a//b", "/a", "a/", "-a", "a-", "a..b", "a___b",
          "busybox:-tag", "busybox:" + std::string(129, 't'), "busybox@sha256:abc", "busybox@md5:" + kHex,
          "busybox@", "localhost:port/a", "exa_mple.com/a", "a/B", kHex, "docker.io/Library/x", "a:b:c",
          "local host/x", "a\nb", std::string(300, 'a')};
    for (const std::string& bad : cases) {
        INFO("input: " << bad);
        try {
            parse_reference(bad);
            FAIL("accepted");
        } catch (const kiln::Error& e) {
            std::string msg = e.what();
            CHECK(msg.rfind("invalid reference format", 0) == 0);
            CHECK(msg.find('\n') == std::string::npos);
        }
        CHECK_FALSE(kiln::image::try_parse_reference(bad));
    }
    CHECK(parse_reference("busybox:" + std::string(128, 't')).tag.size() == 128);
}

TEST_CASE("reference: image ids", "[reference]") {
    using kiln::image::could_be_image_id_prefix;
    using kiln::image::looks_like_image_id;
    CHECK(looks_like_image_id(kHex));
    CHECK(looks_like_image_id("sha256:" + kHex));
    CHECK(looks_like_image_id("sha256:0123ab"));
    CHECK_FALSE(looks_like_image_id("0123ab"));
    CHECK_FALSE(looks_like_image_id("busybox"));
    CHECK_FALSE(looks_like_image_id("sha256:"));
    CHECK_FALSE(looks_like_image_id(kHex + "0"));
    CHECK(could_be_image_id_prefix("0123ab"));
    CHECK(could_be_image_id_prefix("cafe"));
    CHECK_FALSE(could_be_image_id_prefix("busybox"));
    CHECK_FALSE(could_be_image_id_prefix("ABCD"));
}

TEST_CASE("reference: a refused reference names the rule it breaks", "[reference]") {
    CHECK_THROWS_WITH(parse_reference("Busybox"), Catch::Contains("must be lowercase"));
    CHECK_THROWS_WITH(parse_reference("localhost:5000/My/app"), Catch::Contains("must be lowercase"));
    // 255 characters for the whole normalized name, "docker.io/library/" included.
    const std::string at_limit(255 - std::string("docker.io/library/").size(), 'a');
    CHECK(parse_reference(at_limit).repository().size() == 255);
    CHECK_THROWS_WITH(parse_reference(at_limit + "a"), Catch::Contains("longer than 255 characters"));
    CHECK_THROWS_WITH(parse_reference("busybox:bad*tag"), Catch::Contains("tag must match"));
    CHECK_THROWS_WITH(parse_reference("busybox@sha256:abc"), Catch::Contains("64 lowercase hex"));
    CHECK_THROWS_WITH(parse_reference("a/b..c"), Catch::Contains("invalid path component"));
}

TEST_CASE("reference: tag and digest together, and names that only look like hosts", "[reference]") {
    Reference r = parse_reference("busybox:1.36@sha256:" + kHex);
    CHECK(r.tag == "1.36");
    REQUIRE(r.digest);
    CHECK(r.familiar() == "busybox:1.36@sha256:" + kHex);
    // No slash: "localhost:5000" is the repository localhost with the tag 5000, as in docker.
    CHECK(parse_reference("localhost:5000").str() == "docker.io/library/localhost:5000");
    CHECK(parse_reference("localhost/a/b").familiar_repository() == "localhost/a/b");
    CHECK(parse_reference("127.0.0.1:5000/a/b:tag").familiar() == "127.0.0.1:5000/a/b:tag");
    CHECK(parse_reference("docker.io/library/busybox@sha256:" + kHex).familiar_repository() == "busybox");
}
