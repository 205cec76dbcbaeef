// The raw parse stage on inline Dockerfiles (no shared/ data needed).
#include <catch2/catch.hpp>

#include "parser/parse.hpp"

using kiln::parser::dump;
using kiln::parser::go_quote;
using kiln::parser::parse_dockerfile;
using kiln::parser::ParseError;

namespace {

std::string dump_of(std::string_view text) { return dump(parse_dockerfile(text)); }

// The ParseError a parse throws (fails the test when none is thrown).
ParseError error_of(std::string_view text) {
    try {
        parse_dockerfile(text, "Dockerfile");
    } catch (const ParseError& error) {
        return error;
    }
    FAIL("expected a ParseError");
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("go_quote matches strconv.Quote", "[parser][dump]") {
    CHECK(go_quote("plain") == "\"plain\"");
    CHECK(go_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(go_quote("\t\n\r\a\b\f\v") == "\"\\t\\n\\r\\a\\b\\f\\v\"");
    CHECK(go_quote(std::string("\0\x01\x7f", 3)) == "\"\\x00\\x01\\x7f\"");
    CHECK(go_quote("it's") == "\"it's\"");
    CHECK(go_quote("\xE2\x99\xA5 \xED\x95\x9C") == "\"\xE2\x99\xA5 \xED\x95\x9C\"");  // ♥ 한
    CHECK(go_quote("\xC2\xA0") == "\"\\u00a0\"");                                // no-break space
    CHECK(go_quote("\xE2\x80\xA8") == "\"\\u2028\"");
    CHECK(go_quote("\xFF") == "\"\\xff\"");                                      // invalid UTF-8
}

TEST_CASE("keywords are case-insensitive and dumped lowercase", "[parser]") {
    CHECK(dump_of("From alpine\nrUn echo hi\n") == "(from \"alpine\")\n(run \"echo hi\")\n");
    CHECK(dump_of("FROM a\nFROBNICATE --x=1 some thing\n") == "(from \"a\")\n(frobnicate [\"--x=1\"] \"\")\n");
}

TEST_CASE("line continuations keep whitespace and skip comments", "[parser]") {
    const auto file = parse_dockerfile("FROM a\nRUN echo hello\\\n  world \\\n# comment\n  \\\n done\n");
    REQUIRE(file.instructions.size() == 2);
    CHECK(file.instructions[1].args == std::vector<std::string>{"echo hello  world    done"});
    CHECK(file.instructions[1].range.start.line == 2);
    CHECK(file.instructions[1].range.end.line == 6);
    CHECK(file.warnings.empty());
}

TEST_CASE("empty continuation lines warn", "[parser]") {
    const auto file = parse_dockerfile("FROM a\nRUN a \\\n\n  b\n");
    REQUIRE(file.warnings.size() == 1);
    CHECK(file.warnings[0].message == "Empty continuation line found in: RUN a   b");
    // Located on the instruction's last line, as BuildKit reports it.
    CHECK(file.warnings[0].range.start.line == 4);
    CHECK(file.warnings[0].range.end.line == 4);
}

TEST_CASE("a continuation at end of file is a warning, not an error", "[parser][errors]") {
    const auto file = parse_dockerfile("FROM a\nRUN something \\");
    CHECK(dump(file) == "(from \"a\")\n(run \"something\")\n");
    REQUIRE(file.warnings.size() == 1);
    CHECK(file.warnings[0].message.find("ends inside a line continuation") != std::string::npos);
}

TEST_CASE("escape directive switches to backtick", "[parser][directives]") {
    const auto file = parse_dockerfile("# escape=`\n# syntax=docker/dockerfile:1\nFROM a\nRUN dir c:\\ `\n  && echo\n");
    CHECK(file.escape == '`');
    REQUIRE(file.directives.size() == 2);
    CHECK(file.directives[0].name == "escape");
    CHECK(file.directives[1].value == "docker/dockerfile:1");
    CHECK(file.instructions[1].args == std::vector<std::string>{"dir c:\\   && echo"});
}

TEST_CASE("directives end at the first other line", "[parser][directives]") {
    const auto file = parse_dockerfile("# hello\n# escape=`\nFROM a\n");
    CHECK(file.escape == '\\');
    CHECK(file.directives.empty());
}

TEST_CASE("bad directives are errors", "[parser][directives][errors]") {
    CHECK(error_of("# escape=x\nFROM a\n").message().find("invalid escape token 'x'") != std::string::npos);
    CHECK(error_of("# syntax=a\n# syntax=b\nFROM a\n").message() == "only one syntax parser directive can be used");
}

TEST_CASE("CRLF and BOM", "[parser]") {
    CHECK(dump_of("\xEF\xBB\xBF" "FROM a\r\nRUN b \\\r\n c\r\n") == "(from \"a\")\n(run \"b  c\")\n");
}

TEST_CASE("JSON form and fallbacks", "[parser]") {
    const auto file = parse_dockerfile("FROM a\nCMD [\"a\", \"b\\u0041\"]\nCMD ['a']\nCOPY [\"a b\", \"/c\"]\n");
    CHECK(file.instructions[1].json_form);
    CHECK(file.instructions[1].args == std::vector<std::string>{"a", "bA"});
    CHECK_FALSE(file.instructions[2].json_form);
    CHECK(file.instructions[2].args == std::vector<std::string>{"['a']"});
    CHECK(file.instructions[3].args == std::vector<std::string>{"a b", "/c"});
}

TEST_CASE("text after a JSON array makes the instruction shell form, as BuildKit 1.9 on", "[parser]") {
    // BuildKit parses the whole rest with json.Unmarshal: anything but blanks after the
    // closing bracket is a syntax error, and the instruction falls back to its non-JSON rule.
    const auto file = parse_dockerfile(
        "FROM a\nCMD [\"a\"] x\nENTRYPOINT [\"a\"] # c\nCOPY [\"a\", \"b\"] # c\nCMD [\"a\", 1] x\n"
        "CMD [\"a\"]  \t\nRUN [\"a\"]]\nHEALTHCHECK CMD [\"a\"] x\n");
    REQUIRE(file.instructions.size() == 8);
    CHECK_FALSE(file.instructions[1].json_form);
    CHECK(file.instructions[1].args == std::vector<std::string>{"[\"a\"] x"});
    CHECK_FALSE(file.instructions[2].json_form);
    CHECK(file.instructions[2].args == std::vector<std::string>{"[\"a\"] # c"});
    CHECK_FALSE(file.instructions[3].json_form);
    CHECK(file.instructions[3].args == std::vector<std::string>{"[\"a\",", "\"b\"]", "#", "c"});
    CHECK_FALSE(file.instructions[4].json_form);  // a non-string element, but not valid JSON
    CHECK(file.instructions[4].args == std::vector<std::string>{"[\"a\", 1] x"});
    CHECK(file.instructions[5].json_form);  // trailing blanks are JSON whitespace
    CHECK(file.instructions[5].args == std::vector<std::string>{"a"});
    CHECK_FALSE(file.instructions[6].json_form);
    CHECK_FALSE(file.instructions[7].json_form);
    CHECK(file.instructions[7].args == std::vector<std::string>{"CMD", "[\"a\"] x"});
    CHECK(dump(file).find("(cmd \"[\\\"a\\\"] x\")") != std::string::npos);
}

TEST_CASE("a JSON array with a non-string element is an error", "[parser][errors]") {
    const ParseError error = error_of("FROM a\nCMD [\"echo\", 1]\n");
    CHECK(error.message().find("arrays must be comprised of strings only") != std::string::npos);
    CHECK(error.position().line == 2);
    CHECK(error.position().column == 5);
}

TEST_CASE("deeply nested JSON does not recurse without bound", "[parser]") {
    const std::string text = "FROM a\nCMD " + std::string(60000, '[') + "\n";
    CHECK(parse_dockerfile(text).instructions[1].args.size() == 1);  // shell form
}

TEST_CASE("ENV, LABEL and ARG word rules", "[parser]") {
    CHECK(dump_of("FROM a\nENV a=\"b c\" d=e\\ f\nENV k v w\nARG x y=1\n") ==
          "(from \"a\")\n(env \"a\" \"\\\"b c\\\"\" \"=\" \"d\" \"e\\\\ f\" \"=\")\n"
          "(env \"k\" \"v w\" \"\")\n(arg \"x\" \"y=1\")\n");
    const ParseError no_equals = error_of("FROM a\nENV a=b c\n");
    CHECK(no_equals.message().find("can't find = in \"c\"") != std::string::npos);
    CHECK(no_equals.position().column == 9);  // regression: the caret text outlived its word
    CHECK(error_of("FROM a\nLABEL only\n").message() == "LABEL must have two arguments");
}

TEST_CASE("ONBUILD nests one instruction", "[parser]") {
    const auto file = parse_dockerfile("FROM a\nONBUILD COPY --from=b . /\nONBUILD\nONBUILD ONBUILD RUN x\n");
    CHECK(dump(file) == "(from \"a\")\n(onbuild (copy [\"--from=b\"] \".\" \"/\"))\n(onbuild)\n"
                        "(onbuild (onbuild (run \"x\")))\n");
    REQUIRE(file.instructions[1].inner);
    CHECK(file.instructions[1].inner->keyword == "copy");
}

TEST_CASE("ONBUILD chains are bounded", "[parser]") {
    std::string text = "FROM a\n";
    for (int i = 0; i < 5000; ++i) text += "ONBUILD ";
    text += "RUN x\n";
    CHECK(parse_dockerfile(text).instructions.size() == 2);
}

TEST_CASE("heredocs", "[parser][heredoc]") {
    const auto file = parse_dockerfile(
        "FROM a\nCOPY <<one 3<<-'two' /dest\nfirst\none\n\tsecond\n\ttwo\nRUN <<EOF\r\nx\r\nEOF\r\n");
    const auto& copy = file.instructions[1];
    REQUIRE(copy.heredocs.size() == 2);
    CHECK(copy.heredocs[0].name == "one");
    CHECK(copy.heredocs[0].content == "first\n");
    CHECK(copy.heredocs[1].name == "two");
    CHECK(copy.heredocs[1].fd == 3);
    CHECK(copy.heredocs[1].chomp);
    CHECK_FALSE(copy.heredocs[1].expand);
    CHECK(copy.heredocs[1].content == "\tsecond\n");
    CHECK(kiln::parser::heredoc_body(copy.heredocs[1]) == "second\n");
    CHECK(kiln::parser::heredoc_body(copy.heredocs[0]) == "first\n");
    CHECK(copy.range.end.line == 6);
    const auto& run = file.instructions[2];
    REQUIRE(run.heredocs.size() == 1);
    CHECK(run.heredocs[0].content == "x\r\n");
}

TEST_CASE("an unterminated heredoc points at its start", "[parser][heredoc][errors]") {
    const ParseError error = error_of("FROM a\nRUN cat <<EOF\nhello\n");
    CHECK(error.message().find("unterminated heredoc") != std::string::npos);
    CHECK(error.position().line == 2);
    CHECK(error.position().column == 9);
    CHECK(error.render() == "Dockerfile:2:9: " + error.message() + "\n  RUN cat <<EOF\n          ^");
}

TEST_CASE("files with no instructions are refused", "[parser][errors]") {
    CHECK(error_of("").message() == "file with no instructions");
    CHECK(error_of("# just a comment\n\n   \n").message() == "file with no instructions");
}

TEST_CASE("size limits", "[parser][errors]") {
    const std::string long_line = "FROM a\nRUN " + std::string(70000, 'x') + "\n";
    const ParseError error = error_of(long_line);
    CHECK(error.message() == "dockerfile line greater than max allowed size of 65535");
    CHECK(error.position().line == 2);

    const std::string huge(kiln::parser::kMaxDockerfileSize + 1, '\n');
    CHECK(error_of(huge).message().find("larger than") != std::string::npos);
}

TEST_CASE("positions of instructions", "[parser]") {
    const auto file = parse_dockerfile("\n  FROM a\n\tRUN b\n");
    CHECK(file.instructions[0].keyword_pos.line == 2);
    CHECK(file.instructions[0].keyword_pos.column == 3);
    CHECK(file.instructions[1].keyword_pos.column == 2);
    CHECK(file.lines.size() == 3);
}

TEST_CASE("heredocs under ONBUILD attach to the ONBUILD instruction", "[parser][heredoc]") {
    const auto file = parse_dockerfile("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nONBUILD RUN [\"<<X\"]\nUSER <<Y\nY\n");
    REQUIRE(file.instructions.size() == 5);
    REQUIRE(file.instructions[1].heredocs.size() == 1);
    CHECK(file.instructions[1].heredocs[0].content == "echo hi\n");
    CHECK(file.instructions[2].heredocs.empty());  // exec form
    CHECK(file.instructions[3].heredocs.empty());  // USER takes no heredoc
    CHECK(file.instructions[4].keyword == "y");    // so its "body" is an instruction
}

TEST_CASE("flag words lose their quotes and escapes", "[parser]") {
    CHECK(dump_of("FROM a\nCOPY --x=\"a b\" --y='c d' --z=e\\ f -- --g h\n") ==
          "(from \"a\")\n(copy [\"--x=a b\" \"--y=c d\" \"--z=e f\"] \"--g\" \"h\")\n");
    CHECK(dump_of("# escape=`\nFROM a\nCOPY --x=a`\"b c d\n") ==
          "(from \"a\")\n(copy [\"--x=a\\\"b\"] \"c\" \"d\")\n");
}
