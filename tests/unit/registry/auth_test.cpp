#include <catch2/catch.hpp>

#include "registry/auth.hpp"
#include "util/error.hpp"

using kiln::registry::auth::merge_scopes;
using kiln::registry::auth::parse_challenges;
using kiln::registry::auth::split_scopes;

TEST_CASE("a bearer challenge with quoted values holding commas and spaces", "[registry][auth]") {
    auto cs = parse_challenges({R"(Bearer realm="https://auth.example/token",service="registry.example",)"
                                R"(scope="repository:team/app:pull,push repository:other:pull")"});
    REQUIRE(cs.size() == 1);
    CHECK(cs[0].scheme == "bearer");
    CHECK(cs[0].param("realm") == "https://auth.example/token");
    CHECK(cs[0].param("service") == "registry.example");
    CHECK(cs[0].param("scope") == "repository:team/app:pull,push repository:other:pull");
}

TEST_CASE("several challenges in one header and across headers", "[registry][auth]") {
    auto cs = parse_challenges({R"(Basic realm="Registry Realm", Bearer realm="https://t/x", service=reg)",
                                R"(Negotiate)"});
    REQUIRE(cs.size() == 3);
    CHECK(cs[0].scheme == "basic");
    CHECK(cs[0].param("realm") == "Registry Realm");
    CHECK(cs[1].scheme == "bearer");
    CHECK(cs[1].param("service") == "reg");
    CHECK(cs[2].scheme == "negotiate");
    CHECK(cs[2].params.empty());
}

TEST_CASE("challenge keys are case-insensitive and escapes are undone", "[registry][auth]") {
    auto cs = parse_challenges({R"(BEARER Realm="https://a/\"q\"", ERROR="insufficient_scope")"});
    REQUIRE(cs.size() == 1);
    CHECK(cs[0].param("realm") == "https://a/\"q\"");
    CHECK(cs[0].param("error") == "insufficient_scope");
}

TEST_CASE("malformed challenges are skipped, never thrown on", "[registry][auth]") {
    CHECK(parse_challenges({""}).empty());
    CHECK(parse_challenges({",,, ,"}).empty());
    auto cs = parse_challenges({R"(Bearer realm="unterminated)", R"(=x, Basic realm=r)"});
    REQUIRE(cs.size() == 2);
    CHECK(cs[0].param("realm").empty());
    CHECK(cs[1].param("realm") == "r");
}

TEST_CASE("scope strings for pull, push and a mount", "[registry][auth]") {
    using kiln::registry::auth::repository_scope;
    CHECK(repository_scope("library/busybox", false) == "repository:library/busybox:pull");
    CHECK(repository_scope("team/app", true) == "repository:team/app:pull,push");
    // A mount: push on the target and pull on the source, one token for both.
    auto merged = merge_scopes({repository_scope("team/app", true), repository_scope("team/base", false)});
    CHECK(merged == std::vector<std::string>{"repository:team/app:pull,push", "repository:team/base:pull"});
}

TEST_CASE("merging scopes unions actions per resource, with host:port names kept whole", "[registry][auth]") {
    auto merged = merge_scopes({"repository:localhost:5000/app:push", "repository:localhost:5000/app:pull",
                                "registry:catalog:*", "repository:localhost:5000/app:pull"});
    CHECK(merged == std::vector<std::string>{"registry:catalog:*", "repository:localhost:5000/app:pull,push"});
    CHECK(split_scopes(" repository:a:pull  registry:catalog:* ") ==
          std::vector<std::string>{"repository:a:pull", "registry:catalog:*"});
}

TEST_CASE("token answers: token or access_token, expiry at least 60 s", "[registry][auth]") {
    using kiln::registry::auth::parse_token_response;
    auto now = std::chrono::steady_clock::now();
    auto t = parse_token_response(R"({"token":"abc","expires_in":3600})", "r");
    CHECK(t.value == "abc");
    CHECK(t.expires > now + std::chrono::seconds(3000));
    auto a = parse_token_response(R"({"access_token":"xyz","expires_in":1})", "r");
    CHECK(a.value == "xyz");
    CHECK(a.expires > now + std::chrono::seconds(50));
    CHECK(parse_token_response(R"({"token":"","access_token":"second"})", "r").value == "second");
    CHECK_THROWS_AS(parse_token_response(R"({"expires_in":60})", "r"), kiln::Error);
    CHECK_THROWS_AS(parse_token_response("<html>", "r"), kiln::Error);
}

TEST_CASE("a token request's error never shows the token server's secret fields", "[registry][auth]") {
    try {
        kiln::registry::auth::parse_token_response(R"({"refresh_token":"sekrit"})", "reg.example");
        FAIL("no throw");
    } catch (const kiln::Error& e) {
        CHECK(std::string(e.what()).find("sekrit") == std::string::npos);
        CHECK(std::string(e.what()).find("reg.example") != std::string::npos);
    }
}
