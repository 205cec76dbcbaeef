// Inputs found by the libFuzzer targets (tests/fuzz) and the hostile shapes issue #3 item 8
// names (huge, deeply nested). Each must be parsed or rejected with kiln::Error: no crash, no
// other exception type, no stack overflow. Run under ASan (the build-fuzz tree or
// -fsanitize=address) to see memory errors that a plain build may not show.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "parser/expand.hpp"
#include "parser/instructions.hpp"
#include "parser/parse.hpp"
#include "util/error.hpp"

namespace {

using namespace kiln::parser;

enum class Outcome { parsed, rejected };

// The fuzz targets' contract: a Dockerfile either parses (dumps, and goes through the typed
// stage) or throws kiln::Error. Any other exception escapes and fails the test.
Outcome parse_or_reject(std::string_view text) {
    try {
        const Dockerfile file = parse_dockerfile(text, "Dockerfile");
        (void)dump(file);
        (void)to_program(file);
        return Outcome::parsed;
    } catch (const ParseError& e) {
        (void)e.render();  // the caret rendering indexes into the source line
        return Outcome::rejected;
    } catch (const kiln::Error&) {
        return Outcome::rejected;
    }
}

std::string repeat(std::string_view piece, std::size_t times) {
    std::string out;
    out.reserve(piece.size() * times);
    for (std::size_t i = 0; i < times; ++i) out += piece;
    return out;
}

}  // namespace

// Fuzzer finding (parser_fuzz, first minutes): parse.cpp set_name_values throws an
// ArgumentError whose `near` string_view points into a local vector of words; the vector is
// freed while the exception unwinds, and read_instruction's column_of() then reads the freed
// memory (ASan: heap-use-after-free). Any ENV/LABEL word without '=' after a name=value one.
TEST_CASE("ENV/LABEL with a word lacking '=' is rejected, not a use-after-free", "[parser][fuzz]") {
    for (const char* text : {"FROM a\nENV a=b c\n", "FROM a\nLABEL x=1 lonely\n",
                             "ENV NAME=me\xf2\xf5 RUN\n"}) {
        CAPTURE(text);
        CHECK(parse_or_reject(text) == Outcome::rejected);
    }
    try {
        parse_dockerfile("FROM a\nENV a=b c\n");
        FAIL("accepted");
    } catch (const ParseError& e) {
        CHECK(e.position().line == 2);
        CHECK_THAT(e.message(), Catch::Contains("Must be of the form: name=value"));
        // The caret must point at the offending word: "ENV a=b c" → column of "c".
        CHECK(e.position().column == 9);
    }
}

TEST_CASE("a 100 MB Dockerfile is refused with a message", "[parser][fuzz]") {
    const std::string line = "RUN echo 0123456789abcdef0123456789abcdef\n";
    const std::string text = repeat(line, 100'000'000 / line.size() + 1);
    REQUIRE(text.size() > kMaxDockerfileSize);
    try {
        parse_dockerfile(text);
        FAIL("a " << text.size() << "-byte Dockerfile was accepted");
    } catch (const kiln::Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("larger than"));
    }
}

TEST_CASE("deeply nested input does not overflow the stack", "[parser][fuzz]") {
    SECTION("100000 x ONBUILD") {
        const std::string text = "FROM a\n" + repeat("ONBUILD ", 100'000) + "RUN true\n";
        // The raw stage accepts it (as BuildKit's does); the typed stage refuses ONBUILD ONBUILD.
        CHECK(parse_or_reject(text) == Outcome::rejected);
    }
    SECTION("JSON arrays nested 100000 deep") {
        const std::string text = "FROM a\nRUN " + repeat("[", 100'000) + repeat("]", 100'000) + "\n";
        CHECK_NOTHROW(parse_or_reject(text));
    }
    SECTION("${a:-${a:-...}} nested 10000 deep, parsed and expanded") {
        const std::string word = repeat("${a:-", 10'000) + "x" + repeat("}", 10'000);
        CHECK_NOTHROW(parse_or_reject("FROM a\nENV v=" + word + "\n"));
        const EnvMap env;
        for (char escape : {'\\', '`'}) {
            const ShellExpander expander(escape);
            CHECK_THROWS_AS(expander.process(word, env), kiln::Error);
        }
    }
    SECTION("100000 continuation lines") {
        const std::string text = "FROM a\nRUN " + repeat("x \\\n", 100'000) + "y\n";
        CHECK(parse_or_reject(text) == Outcome::parsed);
        const Dockerfile file = parse_dockerfile(text);
        REQUIRE(file.instructions.size() == 2);
        CHECK(file.instructions[1].range.end.line == 100'002);
    }
    SECTION("10000 heredocs on one line") {
        const std::string text = "FROM a\nRUN " + repeat("<<E ", 10'000) + "\n" + repeat("E\n", 10'000);
        CHECK_NOTHROW(parse_or_reject(text));
    }
}
