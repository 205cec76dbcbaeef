#include <catch2/catch.hpp>

#include <set>

#include "runtime/container_config.hpp"
#include "runtime/container_names.hpp"
#include "runtime/container_status.hpp"
#include "runtime/monitor/json_log.hpp"
#include "util/error.hpp"

using namespace kiln::runtime;

TEST_CASE("generated container names are adjective_surname and vary with the seed", "[names]") {
    std::set<std::string> names;
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
        auto name = generated_container_name(seed * 2654435761u);
        CHECK(name.find('_') != std::string::npos);
        CHECK_NOTHROW(validate_container_name(name));
        names.insert(name);
    }
    CHECK(names.size() > 150);
    CHECK(generated_container_name(5, 3).back() == '3');
}

TEST_CASE("container names follow Docker's rule", "[names]") {
    CHECK(validate_container_name("/web1") == "web1");
    CHECK(validate_container_name("a.b-c_d") == "a.b-c_d");
    CHECK_THROWS_WITH(validate_container_name("-x"), Catch::Contains("Invalid container name"));
    CHECK_THROWS(validate_container_name("x"));
    CHECK_THROWS(validate_container_name("a b"));
    CHECK_THROWS(validate_container_name("a/b"));
}

TEST_CASE("status strings and durations are Docker's", "[status]") {
    const std::int64_t s = 1000000000;
    CHECK(human_duration(s / 2) == "Less than a second");
    CHECK(human_duration(s) == "1 second");
    CHECK(human_duration(3 * s) == "3 seconds");
    CHECK(human_duration(61 * s) == "About a minute");
    CHECK(human_duration(5 * 60 * s) == "5 minutes");
    CHECK(human_duration(3600 * s) == "About an hour");
    CHECK(human_duration(3 * 3600 * s) == "3 hours");
    CHECK(human_duration(3 * 86400 * s) == "3 days");
    ContainerRow row;
    row.state = "running";
    row.started_ns = 100 * s;
    CHECK(status_text(row, 103 * s) == "Up 3 seconds");
    row.state = "exited";
    row.exit_code = 0;
    row.finished_ns = 110 * s;
    CHECK(status_text(row, 115 * s) == "Exited (0) 5 seconds ago");
    row.started_ns = 0;
    CHECK(status_text(row, 115 * s) == "Created");
    row.state = "created";
    CHECK(status_text(row, 115 * s) == "Created");
}

TEST_CASE("ps filters: one key's values are alternatives, keys must all match", "[filters]") {
    ContainerRow row;
    row.id = "abcdef0123";
    row.name = "web1";
    row.image = "localhost/busybox";
    row.image_id = "sha256:99aa";
    row.state = "exited";
    row.started_ns = 1;
    row.exit_code = 3;
    ContainerConfig config;
    config.labels = {{"tier", "front"}, {"flag", ""}};
    auto match = [&](std::vector<std::string> texts) {
        std::vector<PsFilter> fs;
        for (auto& t : texts) fs.push_back(parse_ps_filter(t));
        return ps_filters_match(fs, row, config);
    };
    CHECK(match({"status=exited"}));
    CHECK_FALSE(match({"status=running"}));
    CHECK(match({"status=running", "status=exited"}));
    CHECK(match({"name=web"}));
    CHECK(match({"id=abc"}));
    CHECK_FALSE(match({"id=bcd"}));
    CHECK(match({"label=tier"}));
    CHECK(match({"label=tier=front"}));
    CHECK_FALSE(match({"label=tier=back"}));
    CHECK(match({"exited=3"}));
    CHECK_FALSE(match({"exited=0"}));
    CHECK(match({"ancestor=localhost/busybox"}));
    CHECK(match({"ancestor=99aa"}));
    CHECK_FALSE(match({"name=web", "status=running"}));
    CHECK_THROWS_WITH(parse_ps_filter("bogus=1"), Catch::Contains("invalid filter"));
    CHECK_THROWS(parse_ps_filter("status=sleeping"));
    CHECK_THROWS(parse_ps_filter("exited=x"));
    CHECK_THROWS(parse_ps_filter("status"));
}

TEST_CASE("json-file log lines are Docker's", "[logs]") {
    CHECK(rfc3339_nano(0) == "1970-01-01T00:00:00Z");
    CHECK(rfc3339_nano(1500000000) == "1970-01-01T00:00:01.5Z");
    CHECK(rfc3339_nano(1714557600123456789) == "2024-05-01T10:00:00.123456789Z");
    std::string out;
    append_json_log_entry(out, "a\"b\\<&>\t\x01\xff\n", "stdout", 0);
    CHECK(out == "{\"log\":\"a\\\"b\\\\\\u003c\\u0026\\u003e\\t\\u0001\\ufffd\\n\",\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:00Z\"}\n");
    LogLineSplitter lines;
    out.clear();
    lines.feed("one\ntw", "stderr", 0, out);
    lines.feed("o\nthree", "stderr", 0, out);
    lines.finish("stderr", 0, out);
    CHECK(out.find("\"log\":\"one\\n\"") != std::string::npos);
    CHECK(out.find("\"log\":\"two\\n\"") != std::string::npos);
    CHECK(out.find("\"log\":\"three\"") != std::string::npos);
    out.clear();
    lines.feed(std::string(LogLineSplitter::max_line + 10, 'x'), "stdout", 0, out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("signals parse as Docker spells them", "[signals]") {
    CHECK(parse_signal("SIGTERM") == 15);
    CHECK(parse_signal("term") == 15);
    CHECK(parse_signal("KILL") == 9);
    CHECK(parse_signal("10") == 10);
    CHECK_THROWS_WITH(parse_signal("SIGNOPE"), Catch::Contains("Invalid signal"));
    CHECK_THROWS(parse_signal("0"));
}
