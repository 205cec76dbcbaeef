// The typed stage (to_program) on inline Dockerfiles.
#include <catch2/catch.hpp>

#include "parser/instructions.hpp"
#include "parser/parse.hpp"

using namespace kiln::parser;

namespace {

ParseError typed_error_of(std::string_view text) {
    const Dockerfile file = parse_dockerfile(text, "Dockerfile");
    try {
        to_program(file);
    } catch (const ParseError& error) {
        return error;
    }
    FAIL("expected a ParseError from to_program");
    throw std::logic_error("unreachable");
}

bool mentions(const ParseError& error, std::string_view text) {
    INFO(error.render());
    return error.message().find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("a typed program has global args and stages", "[parser][typed]") {
    const Dockerfile file = parse_dockerfile(
        "ARG BASE=alpine\n"
        "FROM --platform=linux/amd64 $BASE AS Build\n"
        "RUN --mount=type=cache,target=/root/.cache,sharing=locked --network=none make\n"
        "COPY --from=build --chmod=0755 --link --exclude=*.md --exclude=*.txt a b /out/\n"
        "ENV A=1 B=\"two words\"\n"
        "HEALTHCHECK --interval=30s --retries=3 CMD [\"true\"]\n"
        "FROM scratch\n"
        "COPY <<EOF /etc/motd\nhello\nEOF\n"
        "ONBUILD RUN echo hi\n");
    const Program program = to_program(file);
    REQUIRE(program.global_args.size() == 1);
    CHECK(program.global_args[0].args[0].first == "BASE");
    CHECK(program.global_args[0].args[0].second == std::optional<std::string>("alpine"));
    REQUIRE(program.stages.size() == 2);

    const Stage& build = program.stages[0];
    CHECK(build.from.image == "$BASE");
    CHECK(build.from.stage_name == "build");
    CHECK(build.from.platform == "linux/amd64");
    REQUIRE(build.instructions.size() == 4);

    const auto& run = std::get<RunCmd>(build.instructions[0].command);
    CHECK(run.command.shell_form);
    CHECK(run.command.args == std::vector<std::string>{"make"});
    REQUIRE(run.mounts.size() == 1);
    CHECK(run.mounts[0].options.at("type") == "cache");
    CHECK(run.mounts[0].options.at("target") == "/root/.cache");
    CHECK(run.mounts[0].options.at("sharing") == "locked");
    CHECK(run.network == "none");

    const auto& copy = std::get<CopyCmd>(build.instructions[1].command);
    CHECK(copy.sources == std::vector<std::string>{"a", "b"});
    CHECK(copy.dest == "/out/");
    CHECK(copy.from == "build");
    CHECK(copy.chmod == "0755");
    CHECK(copy.link);
    CHECK(copy.excludes == std::vector<std::string>{"*.md", "*.txt"});

    const auto& env = std::get<EnvCmd>(build.instructions[2].command);
    REQUIRE(env.vars.size() == 2);
    CHECK(env.vars[1].key == "B");
    CHECK(env.vars[1].value == "\"two words\"");

    const auto& health = std::get<HealthcheckCmd>(build.instructions[3].command);
    CHECK(health.interval == "30s");
    CHECK(health.retries == 3);
    CHECK(health.test.args == std::vector<std::string>{"true"});
    CHECK_FALSE(health.test.shell_form);

    const Stage& final_stage = program.stages[1];
    const auto& heredoc_copy = std::get<CopyCmd>(final_stage.instructions[0].command);
    CHECK(heredoc_copy.sources == std::vector<std::string>{"<<EOF"});
    REQUIRE(heredoc_copy.heredocs.size() == 1);
    CHECK(heredoc_copy.heredocs[0].content == "hello\n");
    CHECK(std::get<OnbuildCmd>(final_stage.instructions[1].command).expression == "RUN echo hi");
    CHECK(final_stage.instructions[1].source == &file.instructions[8]);
}

TEST_CASE("unknown instruction with a suggestion", "[parser][typed][errors]") {
    const ParseError error = typed_error_of("FROM a\n\n    COPPY a b\n");
    CHECK(error.message() == "unknown instruction \"COPPY\" (did you mean COPY?)");
    CHECK(error.position().line == 3);
    CHECK(error.position().column == 5);
    CHECK(error.render() == "Dockerfile:3:5: unknown instruction \"COPPY\" (did you mean COPY?)\n"
                            "      COPPY a b\n"
                            "      ^");
    CHECK(typed_error_of("FROM a\nXYZZYQ\n").message() == "unknown instruction \"XYZZYQ\"");
}

TEST_CASE("unknown and duplicated flags", "[parser][typed][errors]") {
    const ParseError unknown = typed_error_of("FROM a\nCOPY --chmodd=755 a b\n");
    CHECK(mentions(unknown, "unknown flag --chmodd for COPY"));
    CHECK(unknown.position().column == 6);
    CHECK(mentions(typed_error_of("FROM a\nENV --x=1 a=b\n"), "unknown flag --x for ENV"));
    CHECK(mentions(typed_error_of("FROM a\nADD --from=b a c\n"), "unknown flag --from for ADD"));
    const ParseError duplicate = typed_error_of("FROM a\nCOPY --from=a --from=b x y\n");
    CHECK(mentions(duplicate, "duplicate flag specified: --from"));
    CHECK(mentions(typed_error_of("FROM a\nCOPY --from x y\n"), "missing a value on flag: --from"));
}

TEST_CASE("bad flag values", "[parser][typed][errors]") {
    CHECK(mentions(typed_error_of("FROM a\nCOPY --chmod=xyz a b\n"), "invalid --chmod value \"xyz\""));
    CHECK(mentions(typed_error_of("FROM a\nRUN --network=foo x\n"), "unsupported network mode \"foo\""));
    CHECK(mentions(typed_error_of("FROM a\nRUN --security=x y\n"), "unsupported security mode"));
    CHECK(mentions(typed_error_of("FROM a\nRUN --mount=type=nfs,target=/x y\n"), "unsupported mount type \"nfs\""));
    CHECK(mentions(typed_error_of("FROM a\nRUN --mount=source=/x y\n"), "needs a target"));
    CHECK(mentions(typed_error_of("FROM a\nRUN --mount y\n"), "missing a value on flag: --mount"));
    CHECK(mentions(typed_error_of("FROM a\nRUN --mount=type=cache,target=/x,bogus=1 y\n"),
                   "unexpected key 'bogus'"));
    CHECK(mentions(typed_error_of("FROM a\nRUN --mount=type=cache,target=/x,sharing=all y\n"),
                   "unsupported sharing value"));
    CHECK(mentions(typed_error_of("FROM a\nCOPY --link=maybe a b\n"), "expecting boolean value"));
    CHECK(mentions(typed_error_of("FROM a\nHEALTHCHECK --interval=5 CMD true\n"), "invalid duration \"5\""));
    CHECK(mentions(typed_error_of("FROM a\nHEALTHCHECK --timeout=1us CMD true\n"), "cannot be less than 1ms"));
    CHECK(mentions(typed_error_of("FROM a\nHEALTHCHECK --retries=-1 CMD true\n"), "cannot be negative"));
    CHECK_NOTHROW(to_program(parse_dockerfile(
        "FROM a\nHEALTHCHECK --interval=1m30.5s --timeout=0s --start-period=1h CMD true\n"
        "RUN --mount=type=secret,id=tok,required --mount=type=ssh --mount=type=tmpfs,target=/t,size=64m x\n"
        "COPY --chmod=u+x,go-w a b\n")));
}

TEST_CASE("ONBUILD may not wrap FROM, ONBUILD or MAINTAINER", "[parser][typed][errors]") {
    const ParseError from = typed_error_of("FROM a\nONBUILD FROM b\n");
    CHECK(from.message() == "FROM isn't allowed as an ONBUILD trigger");
    CHECK(from.position().line == 2);
    CHECK(from.position().column == 9);
    CHECK(mentions(typed_error_of("FROM a\nONBUILD ONBUILD RUN x\n"), "ONBUILD ONBUILD"));
    CHECK(mentions(typed_error_of("FROM a\nONBUILD MAINTAINER me\n"), "MAINTAINER isn't allowed"));
    CHECK(mentions(typed_error_of("FROM a\nONBUILD COPY --bad=1 a b\n"), "unknown flag --bad for COPY"));
}

TEST_CASE("missing arguments", "[parser][typed][errors]") {
    CHECK(mentions(typed_error_of("FROM a\nCOPY a\n"), "Destination could not be determined"));
    CHECK(mentions(typed_error_of("FROM a\nENV\n"), "ENV requires at least one argument"));
    CHECK(mentions(typed_error_of("FROM a\nWORKDIR\n"), "WORKDIR requires exactly one argument"));
    CHECK(mentions(typed_error_of("FROM a\nRUN\n"), "RUN requires at least one argument"));
    CHECK(mentions(typed_error_of("FROM a\nSHELL /bin/sh\n"), "JSON form"));
    CHECK(mentions(typed_error_of("FROM a\nHEALTHCHECK CMD\n"), "Missing command after HEALTHCHECK CMD"));
    CHECK(mentions(typed_error_of("FROM a\nHEALTHCHECK CONNECT x\n"), "Unknown type \"CONNECT\""));
    CHECK(mentions(typed_error_of("FROM a b\n"), "one or three arguments"));
    CHECK(mentions(typed_error_of("FROM a AS 1x\n"), "invalid name for build stage"));
}

TEST_CASE("only ARG may come before the first FROM", "[parser][typed][errors]") {
    const ParseError error = typed_error_of("ARG X\nRUN echo\nFROM a\n");
    CHECK(mentions(error, "RUN comes before the first FROM"));
    CHECK(error.position().line == 2);
    CHECK(mentions(typed_error_of("ARG X\n"), "no FROM instruction"));
}

TEST_CASE("heredoc sources are normalised to <<NAME", "[parser][typed][heredoc]") {
    const Dockerfile file = parse_dockerfile("FROM a\nCOPY <<'X' 3<<-\"Y\" plain /d/\nx\nX\n\ty\n\tY\n");
    const Program program = to_program(file);
    const auto& copy = std::get<CopyCmd>(program.stages[0].instructions[0].command);
    CHECK(copy.sources == std::vector<std::string>{"<<X", "<<-Y", "plain"});
    CHECK(copy.dest == "/d/");
    REQUIRE(copy.heredocs.size() == 2);
    CHECK_FALSE(copy.heredocs[0].expand);
    CHECK(mentions(typed_error_of("FROM a\nCOPY a <<EOF\nx\nEOF\n"), "destination can't be a heredoc"));
}

TEST_CASE("flag values built from variables are checked after expansion", "[parser][typed]") {
    const Program program = to_program(parse_dockerfile(
        "FROM a\nARG UID MODE\nRUN --mount=type=cache,target=/c,uid=$UID,mode=${MODE} x\n"
        "COPY --chmod=$MODE a b\n"));
    const auto& run = std::get<RunCmd>(program.stages[0].instructions[1].command);
    CHECK(run.mounts[0].options.at("uid") == "$UID");
    CHECK(run.mounts[0].options.at("mode") == "${MODE}");
    CHECK(std::get<CopyCmd>(program.stages[0].instructions[2].command).chmod == "$MODE");
    CHECK(mentions(typed_error_of("FROM a\nRUN --mount=type=cache,target=/c,bogus=$X y\n"),
                   "unexpected key 'bogus'"));
}
