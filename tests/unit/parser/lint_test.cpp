#include <catch2/catch.hpp>

#include <algorithm>

#include "parser/lint.hpp"
#include "parser/parse.hpp"
#include "util/error.hpp"

using kiln::parser::lint;
using kiln::parser::LintResult;
using kiln::parser::parse_dockerfile;

namespace {

LintResult run(const std::string& text) { return lint(parse_dockerfile(text)); }

// "Rule@line: message" for each warning, to compare in one go.
std::vector<std::string> summary(const LintResult& r) {
    std::vector<std::string> out;
    for (const auto& w : r.warnings) {
        out.push_back(w.rule + "@" + std::to_string(w.position.line) + ": " + w.message);
    }
    return out;
}

std::vector<std::string> rules(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& w : run(text).warnings) out.push_back(w.rule);
    return out;
}

}  // namespace

TEST_CASE("a clean Dockerfile has no warnings", "[lint]") {
    CHECK(summary(run("FROM alpine AS build\n"
                      "ARG V=1\n"
                      "ENV A=$V B=x\n"
                      "WORKDIR /src\n"
                      "WORKDIR sub\n"
                      "COPY --chown=$V . .\n"
                      "RUN echo $UNDEFINED_IS_FINE_IN_RUN\n"
                      "FROM build\n"
                      "WORKDIR rel\n"
                      "LABEL a=$A\n"
                      "CMD [\"sh\"]\n"))
              .empty());
}

TEST_CASE("stage name checks", "[lint]") {
    CHECK(summary(run("FROM alpine AS Build\nFROM alpine as x\nFROM alpine AS build\n"
                      "FROM alpine AS scratch\n")) ==
          std::vector<std::string>{
              "StageNameCasing@1: Stage name 'Build' should be lowercase",
              "FromAsCasing@2: 'as' and 'FROM' keywords' casing do not match",
              "DuplicateStageName@3: Duplicate stage name \"build\", stage names should be unique",
              "ReservedStageName@4: Stage name should not use the same name as reserved stage "
              "\"scratch\""});
    CHECK(rules("from alpine AS x\n") == std::vector<std::string>{"FromAsCasing"});
    CHECK(rules("from alpine as x\n").empty());
}

TEST_CASE("JSONArgsRecommended and MultipleInstructionsDisallowed", "[lint]") {
    CHECK(summary(run("FROM alpine\nCMD echo a\nENTRYPOINT [\"x\"]\nCMD [\"b\"]\n")) ==
          std::vector<std::string>{
              "JSONArgsRecommended@2: JSON arguments recommended for CMD to prevent unintended "
              "behavior related to OS signals",
              "MultipleInstructionsDisallowed@2: Multiple CMD instructions should not be used in "
              "the same stage because only the last one will be used"});
    // An explicit SHELL says the shell form is intended.
    CHECK(rules("FROM alpine\nSHELL [\"/bin/bash\", \"-c\"]\nENTRYPOINT echo hi\n").empty());
    // Each stage has its own CMD.
    CHECK(rules("FROM alpine\nCMD [\"a\"]\nFROM alpine\nCMD [\"b\"]\n").empty());
}

TEST_CASE("UndefinedVar and UndefinedArgInFrom", "[lint]") {
    CHECK(summary(run("FROM alpine\nENV PATH=$PAHT:/app/bin\n")) ==
          std::vector<std::string>{
              "UndefinedVar@2: Usage of undefined variable '$PAHT' (did you mean $PATH?)"});
    CHECK(rules("FROM alpine AS base\nCOPY $foo .\n") == std::vector<std::string>{"UndefinedVar"});
    CHECK(rules("FROM alpine AS base\nARG foo\nCOPY $foo .\n").empty());
    CHECK(rules("FROM alpine\nARG VERSION=$foo\n") == std::vector<std::string>{"UndefinedVar"});
    // ENV values are expanded with the environment from before the instruction.
    CHECK(rules("FROM alpine\nENV A=1 B=$A\n") == std::vector<std::string>{"UndefinedVar"});
    // Global ARGs are visible in FROM, and inside a stage only when redeclared.
    CHECK(rules("ARG TAG=3\nFROM alpine:$TAG\nARG TAG\nWORKDIR /$TAG\n").empty());
    CHECK(rules("ARG TAG=3\nFROM alpine:$TAG\nWORKDIR /$TAG\n") ==
          std::vector<std::string>{"UndefinedVar"});
    CHECK(summary(run("ARG VERSION=1\nFROM alpine:$VERSIN\n")) ==
          std::vector<std::string>{
              "UndefinedArgInFrom@2: FROM argument 'VERSIN' is not declared (did you mean "
              "VERSION?)"});
    CHECK(rules("FROM --platform=$BUILDPLATFORM alpine\n").empty());
    // A stage built on another inherits its ENV.
    CHECK(rules("FROM alpine AS a\nENV X=1\nFROM a\nWORKDIR /$X\n").empty());
}

TEST_CASE("WorkdirRelativePath, MaintainerDeprecated, LegacyKeyValueFormat", "[lint]") {
    CHECK(summary(run("FROM alpine\nWORKDIR app\nMAINTAINER me\nENV A b\nLABEL x y\n")) ==
          std::vector<std::string>{
              "WorkdirRelativePath@2: Relative workdir \"app\" can have unexpected results if "
              "the base image changes",
              "MaintainerDeprecated@3: Maintainer instruction is deprecated in favor of using "
              "label",
              "LegacyKeyValueFormat@4: \"ENV key=value\" should be used instead of legacy \"ENV "
              "key value\" format",
              "LegacyKeyValueFormat@5: \"LABEL key=value\" should be used instead of legacy "
              "\"LABEL key value\" format"});
}

TEST_CASE("ConsistentInstructionCasing follows the majority", "[lint]") {
    CHECK(summary(run("FROM alpine\nRUN a\nrun b\nCopy . .\n")) ==
          std::vector<std::string>{
              "ConsistentInstructionCasing@3: Command 'run' should match the case of the "
              "command majority (uppercase)",
              "ConsistentInstructionCasing@4: Command 'Copy' should match the case of the "
              "command majority (uppercase)"});
    CHECK(rules("from alpine\nrun a\nrun b\nRUN c\n") ==
          std::vector<std::string>{"ConsistentInstructionCasing"});
}

TEST_CASE("check directive: skip and error", "[lint]") {
    auto r = run("# check=skip=MaintainerDeprecated,WorkdirRelativePath;error=true\n"
                 "FROM alpine\nMAINTAINER me\nWORKDIR x\nCMD a\n");
    CHECK(summary(r).size() == 1);
    CHECK(r.warnings.at(0).rule == "JSONArgsRecommended");
    CHECK(r.failed());
    CHECK(run("# check=skip=all\nFROM alpine\nMAINTAINER me\n").warnings.empty());
    CHECK_FALSE(run("FROM alpine\nMAINTAINER me\n").failed());

    using kiln::parser::parse_check_directive;
    CHECK(parse_check_directive(" skip=A,B;error=1 ignored").skip ==
          std::set<std::string>{"A", "B"});
    CHECK(parse_check_directive("error=True").error);
    CHECK_THROWS_AS(parse_check_directive("bogus"), kiln::Error);
    CHECK_THROWS_AS(parse_check_directive("error=yes"), kiln::Error);
    CHECK_THROWS_AS(parse_check_directive("skip=A;error=true;x=y"), kiln::Error);
}

TEST_CASE("warnings are formatted like compiler diagnostics", "[lint]") {
    auto file = parse_dockerfile("FROM alpine\nMAINTAINER me\n", "Dockerfile.dev");
    auto r = lint(file);
    REQUIRE(r.warnings.size() == 1);
    std::string text = kiln::parser::format_warning(file, r.warnings[0]);
    CHECK(text.rfind("Dockerfile.dev:2:1: MaintainerDeprecated: Maintainer instruction is "
                     "deprecated in favor of using label\n  MAINTAINER me\n  ^\n",
                     0) == 0);
    CHECK(text.find("https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/") !=
          std::string::npos);
}

TEST_CASE("NoEmptyContinuation points at the instruction's last line", "[lint]") {
    CHECK(summary(run("FROM alpine\nRUN a \\\n\n  b \\\n  c\nRUN d\n")) ==
          std::vector<std::string>{"NoEmptyContinuation@5: Empty continuation line"});
}
