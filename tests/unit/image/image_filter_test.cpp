#include <catch2/catch.hpp>

#include "image/image_filter.hpp"
#include "util/error.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

const std::vector<std::string> kListFilters{"dangling", "reference", "label", "before", "since"};

ImageFacts facts(const std::string& seed, std::vector<std::string> names, std::int64_t created,
                 std::map<std::string, std::string> labels = {}) {
    return ImageFacts{sha256_of(seed), std::move(names), created, std::move(labels)};
}

}  // namespace

TEST_CASE("image filters parse docker's name=value arguments", "[image][filter]") {
    auto f = parse_image_filters({"dangling=true", "reference=busy*", "label=a=b", "label=c"}, kListFilters, 0);
    CHECK(f.dangling == true);
    CHECK(f.references == std::vector<std::string>{"busy*"});
    REQUIRE(f.labels.size() == 2);
    CHECK(f.labels[0].value == "b");
    CHECK_FALSE(f.labels[1].value);
    CHECK_THROWS_WITH(parse_image_filters({"color=red"}, kListFilters, 0), "invalid filter 'color'");
    CHECK_THROWS_WITH(parse_image_filters({"dangling=maybe"}, kListFilters, 0), "invalid filter 'dangling=maybe'");
    CHECK_THROWS(parse_image_filters({"until=1h"}, kListFilters, 0));
    CHECK_THROWS(parse_image_filters({"noequals"}, kListFilters, 0));
    auto until = parse_image_filters({"until=24h", "label!=keep"}, {"until", "label"}, 100000);
    CHECK(until.until == 100000 - 86400);
    CHECK(until.labels[0].negated);
    CHECK(parse_until("2024-01-01T00:00:00Z", 0) == 1704067200);
    CHECK(parse_until("1704067200", 0) == 1704067200);
    CHECK_FALSE(parse_until("yesterday", 0));
}

TEST_CASE("reference globs match the familiar name, with or without the tag", "[image][filter]") {
    CHECK(reference_matches("busybox", "docker.io/library/busybox:latest"));
    CHECK(reference_matches("busy*", "docker.io/library/busybox:latest"));
    CHECK(reference_matches("busybox:lat*", "docker.io/library/busybox:latest"));
    CHECK_FALSE(reference_matches("busybox:1", "docker.io/library/busybox:latest"));
    CHECK(reference_matches("localhost/*", "localhost/demo:1"));
    CHECK_FALSE(reference_matches("*", "localhost/demo:1"));  // '*' stops at '/', as Go's path.Match
    CHECK_FALSE(reference_matches("demo", "localhost/demo:1"));
}

TEST_CASE("select_names keeps an image's matching names and leaves out the rest", "[image][filter]") {
    auto tagged = facts("a", {"localhost/demo:1", "localhost/demo:latest", "localhost/other:1"}, 200, {{"team", "x"}});
    auto dangling = facts("b", {}, 100);
    ImageFilters none;
    CHECK(select_names(none, tagged)->size() == 3);
    CHECK(select_names(none, dangling)->empty());

    ImageFilters only_dangling;
    only_dangling.dangling = true;
    CHECK_FALSE(select_names(only_dangling, tagged));
    CHECK(select_names(only_dangling, dangling));

    ImageFilters by_ref;
    by_ref.references = {"localhost/demo"};
    CHECK(select_names(by_ref, tagged) == std::vector<std::string>{"localhost/demo:1", "localhost/demo:latest"});
    CHECK_FALSE(select_names(by_ref, dangling));

    ImageFilters by_label;
    by_label.labels = {{"team", "x", false}};
    CHECK(select_names(by_label, tagged));
    by_label.labels = {{"team", "y", false}};
    CHECK_FALSE(select_names(by_label, tagged));
    by_label.labels = {{"team", std::nullopt, true}};
    CHECK_FALSE(select_names(by_label, tagged));
    CHECK(select_names(by_label, dangling));

    ImageFilters window;
    window.created_before = 200;  // before=<an image created at 200>
    CHECK_FALSE(select_names(window, tagged));
    CHECK(select_names(window, dangling));
    window = {};
    window.created_after = 100;  // since=<an image created at 100>
    CHECK(select_names(window, tagged));
    CHECK_FALSE(select_names(window, dangling));
}

TEST_CASE("image prune selects dangling images, or every unused one with -a", "[image][prune]") {
    std::vector<ImageFacts> images{facts("new-tagged", {"localhost/a:1"}, 300), facts("new-dangling", {}, 300),
                                   facts("old-dangling", {}, 10, {{"keep", "1"}})};
    ImageFilters none;
    CHECK(select_prune(images, false, none) == std::vector<Digest>{images[1].id, images[2].id});
    CHECK(select_prune(images, true, none).size() == 3);
    ImageFilters old;
    old.until = 100;
    CHECK(select_prune(images, false, old) == std::vector<Digest>{images[2].id});
    ImageFilters unkept;
    unkept.labels = {{"keep", std::nullopt, true}};
    CHECK(select_prune(images, true, unkept) == std::vector<Digest>{images[0].id, images[1].id});
}
