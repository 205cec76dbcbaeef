#include <catch2/catch.hpp>

#include "builder/config_edit.hpp"
#include "util/error.hpp"

using kiln::builder::apply_changes;
using kiln::builder::ImageConfig;

TEST_CASE("change instructions edit the config as Dockerfile lines do", "[builder][change]") {
    auto config = ImageConfig::scratch("linux", "amd64");
    apply_changes(config, {"ENV A=1 B=two", "ENV C=$A-x", "WORKDIR /srv", "WORKDIR app", "USER nobody",
                           "CMD [\"sh\", \"-c\", \"echo hi\"]", "ENTRYPOINT /bin/tini", "EXPOSE 80/tcp 53/udp",
                           "LABEL org.x=y", "VOLUME /data", "STOPSIGNAL SIGINT", "ONBUILD RUN make"});
    const auto& c = config.as_json()["config"];
    CHECK(config.env_value("A") == "1");
    CHECK(config.env_value("B") == "two");
    CHECK(config.env_value("C") == "1-x");  // expanded against the config, as in a build
    CHECK(config.working_dir() == "/srv/app");
    CHECK(config.user() == "nobody");
    CHECK(config.entrypoint() == std::vector<std::string>{"/bin/sh", "-c", "/bin/tini"});
    CHECK(c["ExposedPorts"].contains("80/tcp"));
    CHECK(c["ExposedPorts"].contains("53/udp"));
    CHECK(c["Labels"]["org.x"] == "y");
    CHECK(c["Volumes"].contains("/data"));
    CHECK(c["StopSignal"] == "SIGINT");
    CHECK(c["OnBuild"] == nlohmann::json::array({"RUN make"}));
    // No history entry per change: the caller records one for the whole import or commit.
    CHECK(config.as_json().value("history", nlohmann::json::array()).empty());
}

TEST_CASE("changes are refused where docker refuses them, what docker refuses, in one line", "[builder][change]") {
    auto config = ImageConfig::scratch("linux", "amd64");
    for (const char* bad : {"RUN rm -rf /", "COPY a b", "FROM busybox", "ARG X", "FROBNICATE x", "ENV",
                            "SHELL [\"/bin/bash\"]", "MAINTAINER me", ""}) {
        INFO(bad);
        CHECK_THROWS_AS(apply_changes(config, {bad}), kiln::Error);
    }
    CHECK_THROWS_WITH(apply_changes(config, {"RUN x"}),
                      "invalid --change \"RUN x\": expected one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, "
                      "STOPSIGNAL, USER, VOLUME, WORKDIR");
    // Not JSON: shell form, as BuildKit reads it.
    apply_changes(config, {"CMD [\"unterminated"});
    CHECK(config.cmd() == std::vector<std::string>{"/bin/sh", "-c", "[\"unterminated"});
    // Two instructions smuggled into one change are refused, not half applied.
    CHECK_THROWS_AS(apply_changes(config, {"ENV A=1\nRUN x"}), kiln::Error);
    CHECK_FALSE(config.env_value("A"));
}
