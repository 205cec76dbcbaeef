#include <catch2/catch.hpp>

#include <map>
#include <memory>

#include "builder/config_edit.hpp"
#include "parser/instructions.hpp"
#include "parser/parse.hpp"
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

namespace {

// The edit one Dockerfile line makes to `config`, as a build step sees it.
kiln::builder::ConfigEdit edit_of(const std::string& line, const ImageConfig& config) {
    static const std::map<std::string, std::string> no_build_args;
    const kiln::builder::BuildVariables vars('\\', no_build_args);
    // The Dockerfile must outlive the typed program that points into it.
    static std::vector<std::unique_ptr<kiln::parser::Dockerfile>> files;
    files.push_back(std::make_unique<kiln::parser::Dockerfile>(
        kiln::parser::parse_dockerfile("FROM scratch\n" + line + "\n")));
    const auto program = kiln::parser::to_program(*files.back());
    auto edit = kiln::builder::config_edit(program.stages.at(0).instructions.at(0).command, vars, config);
    REQUIRE(edit);
    return *edit;
}

}  // namespace

TEST_CASE("HEALTHCHECK keeps its durations and retries in the config, as Docker does", "[builder][config]") {
    auto config = ImageConfig::scratch("linux", "amd64");
    auto edit = edit_of("HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s "
                        "--retries=3 CMD curl -f http://localhost/",
                        config);
    edit.apply(config);
    const auto& hc = config.as_json()["config"]["Healthcheck"];
    CHECK(hc["Test"] == nlohmann::json::array({"CMD-SHELL", "curl -f http://localhost/"}));
    CHECK(hc["Interval"] == 30'000'000'000LL);
    CHECK(hc["Timeout"] == 90'000'000'000LL);
    CHECK(hc["StartPeriod"] == 500'000'000LL);
    CHECK(hc["StartInterval"] == 2'000'000'000LL);
    CHECK(hc["Retries"] == 3);
    CHECK(edit.created_by ==
          "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:30s Timeout:1m30s StartPeriod:500ms "
          "StartInterval:2s Retries:3}");

    // Flags not given are left out (omitempty); exec form keeps its words.
    auto exec = edit_of("HEALTHCHECK --interval=1h CMD [\"/bin/check\", \"-q\"]", config);
    exec.apply(config);
    CHECK(config.as_json()["config"]["Healthcheck"] ==
          nlohmann::json({{"Test", {"CMD", "/bin/check", "-q"}}, {"Interval", 3'600'000'000'000LL}}));

    auto none = edit_of("HEALTHCHECK NONE", config);
    none.apply(config);
    CHECK(config.as_json()["config"]["Healthcheck"] == nlohmann::json({{"Test", {"NONE"}}}));
    CHECK(none.created_by == "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}");
}

TEST_CASE("history created_by strings are BuildKit's", "[builder][config][history]") {
    auto config = ImageConfig::scratch("linux", "amd64");
    CHECK(edit_of("CMD [\"sh\", \"-c\", \"echo \\\"hi\\\"\"]", config).created_by == "CMD [\"sh\" \"-c\" \"echo \\\"hi\\\"\"]");
    CHECK(edit_of("CMD echo hi", config).created_by == "CMD [\"/bin/sh\" \"-c\" \"echo hi\"]");
    CHECK(edit_of("ENTRYPOINT [\"/tini\"]", config).created_by == "ENTRYPOINT [\"/tini\"]");
    CHECK(edit_of("SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]", config).created_by ==
          "SHELL [/bin/bash -eo pipefail -c]");
    CHECK(edit_of("EXPOSE 80 53/UDP 8000-8002/tcp", config).created_by ==
          "EXPOSE [80/tcp 53/udp 8000/tcp 8001/tcp 8002/tcp]");
    CHECK(edit_of("VOLUME /data /cache", config).created_by == "VOLUME [/data /cache]");
    CHECK(edit_of("ENV A=1 B=\"two words\"", config).created_by == "ENV A=1 B=two words");
    CHECK(edit_of("LABEL a=b", config).created_by == "LABEL a=b");
    CHECK(edit_of("USER daemon", config).created_by == "USER daemon");
    CHECK(edit_of("STOPSIGNAL SIGTERM", config).created_by == "STOPSIGNAL SIGTERM");
    CHECK(edit_of("MAINTAINER Jane <j@example.com>", config).created_by == "MAINTAINER Jane <j@example.com>");
    // WORKDIR names the directory it ends in.
    config.set_working_dir("/srv");
    CHECK(edit_of("WORKDIR app/../lib", config).created_by == "WORKDIR /srv/lib");
    CHECK(edit_of("WORKDIR /tmp/", config).created_by == "WORKDIR /tmp/");
    // ONBUILD goes into the config but, as in BuildKit, into no history entry.
    auto onbuild = edit_of("ONBUILD RUN make", config);
    CHECK_FALSE(onbuild.history);
    CHECK(edit_of("ENV A=1", config).history);
}

TEST_CASE("EXPOSE ranges become their ports in the config", "[builder][config]") {
    auto config = ImageConfig::scratch("linux", "amd64");
    edit_of("EXPOSE 7000-7001/udp 80", config).apply(config);
    const auto& ports = config.as_json()["config"]["ExposedPorts"];
    CHECK(ports.size() == 3);
    CHECK(ports.contains("7000/udp"));
    CHECK(ports.contains("7001/udp"));
    CHECK(ports.contains("80/tcp"));
}

TEST_CASE("MAINTAINER sets the config's author", "[builder][config]") {
    auto config = ImageConfig::scratch("linux", "amd64");
    edit_of("MAINTAINER Jane", config).apply(config);
    CHECK(config.as_json()["author"] == "Jane");
}
