#include <catch2/catch.hpp>

#include "runtime/env_file.hpp"
#include "util/error.hpp"

using kiln::runtime::parse_env_file;

namespace {

std::optional<std::string> lookup(const std::string& key) {
    if (key == "SET") return std::string("from caller");
    return std::nullopt;
}

}  // namespace

TEST_CASE("env files: values as written, bare keys from the caller, comments and blanks skipped", "[runtime][env_file]") {
    auto entries = parse_env_file("\xEF\xBB\xBF" "A=1\n# comment\n\n   B= spaced \"q\" \nSET\nUNSET\n\tC=a=b\nD=\n", "f", lookup);
    CHECK(entries == std::vector<std::string>{"A=1", "B= spaced \"q\" ", "SET=from caller", "C=a=b", "D="});
    CHECK(parse_env_file("", "f", lookup).empty());
    CHECK(parse_env_file("X=1", "f", lookup) == std::vector<std::string>{"X=1"});  // no final newline
}

TEST_CASE("env files: errors name the file and line", "[runtime][env_file]") {
    CHECK_THROWS_WITH(parse_env_file("A=1\nB C=2\n", "vars", lookup), "vars:2: variable 'B C' contains whitespaces");
    CHECK_THROWS_WITH(parse_env_file("=x\n", "vars", lookup), "vars:1: no variable name on line '=x'");
    CHECK_THROWS_WITH(parse_env_file("A=1\nB=\xff\n", "vars", lookup), "vars:2: invalid utf8 bytes in the env file");
    CHECK_THROWS_AS(parse_env_file("A=\xed\xa0\x80\n", "vars", lookup), kiln::Error);  // a surrogate
}
