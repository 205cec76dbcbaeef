#include <catch2/catch.hpp>

#include "registry/base64.hpp"
#include "registry/http.hpp"

using namespace kiln::registry;

TEST_CASE("URL authority and Location resolution", "[registry][http]") {
    CHECK(http::url_authority("https://Registry.Example:5000/v2/x?y=1") == "registry.example:5000");
    CHECK(http::url_authority("http://127.0.0.1/v2/") == "127.0.0.1");
    CHECK(http::url_authority("http://[::1]:5000/v2/") == "[::1]:5000");
    std::string base = "http://127.0.0.1:5000/v2/a/blobs/uploads/";
    CHECK(http::resolve_url(base, "/v2/a/blobs/uploads/u1?_state=x") == "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=x");
    CHECK(http::resolve_url(base, "u2") == "http://127.0.0.1:5000/v2/a/blobs/uploads/u2");
    CHECK(http::resolve_url(base, "https://storage.example/b?sig=1") == "https://storage.example/b?sig=1");
}

TEST_CASE("query values are percent-encoded", "[registry][http]") {
    CHECK(http::query_escape("repository:a/b:pull,push") == "repository%3Aa%2Fb%3Apull%2Cpush");
    CHECK(http::query_escape("sha256:ab") == "sha256%3Aab");
    CHECK(http::query_escape("a b&c=d") == "a%20b%26c%3Dd");
}

TEST_CASE("loopback hosts, as Docker's proxy and insecure rules see them", "[registry][http]") {
    CHECK(http::is_loopback_host("localhost"));
    CHECK(http::is_loopback_host("localhost:5000"));
    CHECK(http::is_loopback_host("127.0.0.1:5000"));
    CHECK(http::is_loopback_host("127.45.6.7"));
    CHECK(http::is_loopback_host("[::1]:5000"));
    CHECK_FALSE(http::is_loopback_host("128.0.0.1"));
    CHECK_FALSE(http::is_loopback_host("localhost.example.com"));
    CHECK_FALSE(http::is_loopback_host("registry-1.docker.io"));
}

TEST_CASE("base64 as Basic auth and config.json write it", "[registry][http]") {
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("a") == "YQ==");
    CHECK(base64_decode("YQ==") == std::optional<std::string>("a"));
    CHECK(base64_decode("YQ") == std::optional<std::string>("a"));
    CHECK(base64_decode("dXNlcjpwYXNz") == std::optional<std::string>("user:pass"));
    CHECK_FALSE(base64_decode("not base64!").has_value());
    CHECK_FALSE(base64_decode("Y=Q=").has_value());
}

#include "registry/search.hpp"

TEST_CASE("a search term picks its registry as docker search does", "[registry][search]") {
    using P = std::pair<std::string, std::string>;
    CHECK(split_search_term("busybox") == P{"docker.io", "busybox"});
    CHECK(split_search_term("library/busybox") == P{"docker.io", "library/busybox"});
    CHECK(split_search_term("127.0.0.1:5000/app") == P{"127.0.0.1:5000", "app"});
    CHECK(split_search_term("localhost/team/app") == P{"localhost", "team/app"});
    CHECK(split_search_term("reg.example/") == P{"reg.example", ""});
}
