#include <catch2/catch.hpp>

#include "builder/image_config.hpp"
#include "util/error.hpp"

using kiln::builder::ImageConfig;
using nlohmann::json;

TEST_CASE("ENV replaces a variable in place and keeps order", "[builder][config]") {
    auto c = ImageConfig::scratch("linux", "amd64");
    c.set_env("A", "1");
    c.set_env("B", "2");
    c.set_env("A", "3");
    CHECK(c.env() == std::vector<std::string>{"A=3", "B=2"});
    CHECK(c.env_value("A") == "3");
    CHECK_FALSE(c.env_value("AB"));
}

TEST_CASE("WORKDIR is relative to the previous one and cleaned", "[builder][config]") {
    auto c = ImageConfig::scratch("linux", "amd64");
    CHECK(c.working_dir() == "/");
    c.set_working_dir("/app");
    c.set_working_dir("src/../lib");
    CHECK(c.working_dir() == "/app/lib");
    c.set_working_dir("/");
    CHECK(c.working_dir() == "/");
    // An absolute path is stored as written, as BuildKit does; a relative one is cleaned.
    c.set_working_dir("/tmp/");
    CHECK(c.working_dir() == "/tmp/");
    c.set_working_dir("x/");
    CHECK(c.working_dir() == "/tmp/x");
}

TEST_CASE("ONBUILD triggers are taken out of the config once", "[builder][config]") {
    auto c = ImageConfig::scratch("linux", "amd64");
    CHECK(c.take_onbuild().empty());
    c.add_onbuild("RUN a");
    c.add_onbuild("ENV B=1");
    CHECK(c.take_onbuild() == std::vector<std::string>{"RUN a", "ENV B=1"});
    CHECK_FALSE(c.as_json()["config"].contains("OnBuild"));
    CHECK(c.take_onbuild().empty());
}

TEST_CASE("ENTRYPOINT drops a CMD inherited from the base image only", "[builder][config]") {
    json base = {{"architecture", "amd64"}, {"os", "linux"},
                 {"config", {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
    auto c = ImageConfig::from_base(base);
    c.set_entrypoint({"/entry"});
    CHECK(c.cmd().empty());

    auto d = ImageConfig::from_base(base);
    d.set_cmd({"run"});
    d.set_entrypoint({"/entry"});
    CHECK(d.cmd() == std::vector<std::string>{"run"});
}

TEST_CASE("base configs keep unknown fields and reject bad shapes", "[builder][config]") {
    json base = {{"os", "linux"}, {"architecture", "amd64"}, {"x-vendor", 7}, {"config", nullptr}};
    auto c = ImageConfig::from_base(base);
    CHECK(c.as_json()["x-vendor"] == 7);
    CHECK_THROWS_AS(ImageConfig::from_base(json::array()), kiln::Error);
    CHECK_THROWS_AS(ImageConfig::from_base(json{{"config", "x"}}), kiln::Error);
    json bad_ids = {{"rootfs", {{"diff_ids", {"sha256:zz"}}}}};
    CHECK_THROWS_AS(ImageConfig::from_base(bad_ids).diff_ids(), kiln::Error);
}

TEST_CASE("layers and history accumulate", "[builder][config]") {
    auto c = ImageConfig::scratch("linux", "amd64");
    auto d = kiln::sha256_of("layer");
    c.add_layer(d);
    c.add_history("COPY x /x", false, "2026-01-01T00:00:00Z");
    c.add_history("ENV A=1", true, "2026-01-01T00:00:01Z");
    CHECK(c.diff_ids() == std::vector<kiln::Digest>{d});
    CHECK(c.as_json()["history"].size() == 2);
    CHECK(c.as_json()["history"][1]["empty_layer"] == true);
    CHECK_FALSE(c.as_json()["history"][0].contains("empty_layer"));
    CHECK(c.as_json()["created"] == "2026-01-01T00:00:01Z");
    CHECK(json::parse(c.serialize()) == c.as_json());
}

TEST_CASE("a restored config is byte-identical and keeps the inherited-CMD rule", "[builder][config]") {
    json base = {{"architecture", "amd64"}, {"os", "linux"}, {"config", {{"Cmd", {"sh"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
    auto c = ImageConfig::from_base(base);
    c.add_history("RUN x", true, "2026-01-01T00:00:00Z");
    REQUIRE(c.cmd_inherited());
    auto restored = ImageConfig::restore(json::parse(c.serialize()), c.cmd_inherited());
    CHECK(restored.serialize() == c.serialize());
    restored.set_entrypoint({"/e"});
    CHECK(restored.cmd().empty());
}
