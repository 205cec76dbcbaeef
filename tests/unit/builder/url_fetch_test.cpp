#include <catch2/catch.hpp>

#include "builder/url_fetch.hpp"

using namespace kiln::builder;

TEST_CASE("a download is named after the last element of the URL's decoded path", "[builder][add]") {
    CHECK(url_file_name("https://example.com/dir/file.tar.gz") == "file.tar.gz");
    CHECK(url_file_name("http://example.com/a%20b.txt?version=2#top") == "a b.txt");
    CHECK(url_file_name("http://example.com/dir/") == "dir");
    CHECK(url_file_name("http://127.0.0.1:8080/x%2Fy") == "y");  // a decoded slash still separates
    // No usable name: BuildKit's placeholder, never a path that climbs.
    CHECK(url_file_name("http://example.com") == "__unnamed__");
    CHECK(url_file_name("http://example.com/") == "__unnamed__");
    CHECK(url_file_name("http://example.com/a/..") == "__unnamed__");
    CHECK(url_file_name("http://example.com/%2e%2e") == "__unnamed__");
    CHECK(url_file_name("http://example.com/a%00b") == "__unnamed__");
}

TEST_CASE("Last-Modified is read in the three forms HTTP allows", "[builder][add]") {
    CHECK(parse_http_date("Sun, 13 Sep 2020 12:26:40 GMT") == 1600000000);
    CHECK(parse_http_date("Sunday, 13-Sep-20 12:26:40 GMT") == 1600000000);
    CHECK(parse_http_date("Sun Sep 13 12:26:40 2020") == 1600000000);
    CHECK_FALSE(parse_http_date(""));
    CHECK_FALSE(parse_http_date("yesterday"));
    CHECK_FALSE(parse_http_date("Sun, 13 Sep 2020 12:26:40 GMT trailing"));
}

TEST_CASE("only http and https sources are URLs to ADD", "[builder][add]") {
    CHECK(is_http_url("http://x/y"));
    CHECK(is_http_url("https://x/y"));
    CHECK_FALSE(is_http_url("ftp://x/y"));
    CHECK_FALSE(is_http_url("httpfile"));
    CHECK_FALSE(is_http_url("./http://x"));
}
