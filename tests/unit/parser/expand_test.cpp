#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "parser/expand.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::parser::EnvMap;
using kiln::parser::ShellExpander;

namespace {

std::string conformance_dir() { return std::string(KILN_CONFORMANCE_DIR) + "/shell"; }

// False when the file is absent (a clone without ../shared/conformance).
bool read_text(const std::string& path, std::string& out) {
    if (!kiln::path_exists(path)) return false;
    out = kiln::read_file(path);
    return true;
}

std::string trim(std::string_view s) {
    const char* ws = " \t\r\n\v\f";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return "";
    auto e = s.find_last_not_of(ws);
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) break;
        start = p + 1;
    }
    return out;
}

std::string expand(std::string_view in, const EnvMap& env = {}) {
    return ShellExpander().expand_word(in, env);
}

std::vector<std::string> words(std::string_view in, const EnvMap& env = {}) {
    return ShellExpander().expand_words(in, env);
}

// Runs one table case: `expect_error` means f must throw kiln::Error, otherwise it must
// return `expected`. Returns whether the case passed (for the per-file pass count).
template <class T, class F>
bool check_case(bool expect_error, const T& expected, F&& f) {
    std::optional<T> got;
    std::string error;
    try {
        got = f();
    } catch (const kiln::Error& e) {
        error = e.what();
    }
    CAPTURE(error);
    if (expect_error) {
        CHECK_FALSE(got.has_value());
        return !got.has_value();
    }
    CHECK(got == std::optional<T>(expected));
    return got == std::optional<T>(expected);
}

}  // namespace

TEST_CASE("envVarTest conformance (single word)", "[expand][conformance]") {
    std::string text;
    std::string path = conformance_dir() + "/envVarTest";
    if (!read_text(path, text)) {
        WARN("skipped: conformance data absent at " << path);
        return;
    }
    EnvMap env{{"PWD", "/home"}, {"SHELL", "bash"}, {"KOREAN", "한국어"}, {"NULL", ""}};
    ShellExpander sh;
    int run = 0, passed = 0;
    auto lines = split_lines(text);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (!line.empty() && line[0] == '#') continue;
        if (trim(line).empty()) continue;
        auto fields = split(line, '|');
        REQUIRE(fields.size() == 3);
        std::string tag = trim(fields[0]), input = trim(fields[1]), expected = trim(fields[2]);
        if (tag == "W") continue;
        ++run;
        INFO("envVarTest line " << (i + 1) << ": " << line);
        passed += check_case(expected == "error", expected,
                             [&] { return sh.expand_word(input, env); });
    }
    CHECK(run == 228);
    WARN("envVarTest: " << passed << "/" << run << " passed");
}

TEST_CASE("wordsTest conformance (word splitting)", "[expand][conformance]") {
    std::string text;
    std::string path = conformance_dir() + "/wordsTest";
    if (!read_text(path, text)) {
        WARN("skipped: conformance data absent at " << path);
        return;
    }
    EnvMap env;
    ShellExpander sh;
    int run = 0, passed = 0;
    auto lines = split_lines(text);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (!line.empty() && line[0] == '#') continue;
        if (line.rfind("ENV ", 0) == 0) {
            std::string rest = line.substr(4);
            rest.erase(0, rest.find_first_not_of(' '));
            auto eq = rest.find('=');
            REQUIRE(eq != std::string::npos);
            env[rest.substr(0, eq)] = rest.substr(eq + 1);
            continue;
        }
        auto parts = split(line, '|');
        REQUIRE(parts.size() == 2);
        std::string input = trim(parts[0]);
        std::string rhs = parts[1];
        rhs.erase(0, rhs.find_first_not_of(' '));
        auto expected = split(rhs, ',');
        ++run;
        INFO("wordsTest line " << (i + 1) << ": " << line);
        bool error = expected.size() == 1 && expected[0] == "error";
        passed += check_case(error, expected, [&] { return sh.expand_words(input, env); });
    }
    CHECK(run == 24);
    WARN("wordsTest: " << passed << "/" << run << " passed");
}

TEST_CASE("process-word-cases.json conformance", "[expand][conformance]") {
    std::string text;
    std::string path = conformance_dir() + "/process-word-cases.json";
    if (!read_text(path, text)) {
        WARN("skipped: conformance data absent at " << path);
        return;
    }
    auto doc = nlohmann::json::parse(text);
    ShellExpander sh;
    int run = 0, passed = 0;
    int index = 0;
    for (const auto& c : doc.at("cases")) {
        ++index;
        ++run;
        std::string input = c.at("input").get<std::string>();
        EnvMap env;
        for (auto it = c.at("env").begin(); it != c.at("env").end(); ++it) {
            env[it.key()] = it.value().get<std::string>();
        }
        INFO("case #" << index << " input=" << input << " env=" << c.at("env").dump());
        bool ok = true;
        if (c.value("error", false)) {
            std::string message;
            try {
                auto r = sh.process(input, env);
                CAPTURE(r.word);
                ok = false;
            } catch (const kiln::Error& e) {
                message = e.what();
            }
            if (ok && c.contains("error_contains")) {
                ok = message.find(c.at("error_contains").get<std::string>()) != std::string::npos;
                CAPTURE(message);
            }
            CHECK(ok);
        } else {
            kiln::parser::ExpandResult r;
            try {
                r = sh.process(input, env);
            } catch (const kiln::Error& e) {
                r.word = std::string("<error: ") + e.what() + ">";
            }
            CHECK(r.word == c.at("expected").get<std::string>());
            ok = r.word == c.at("expected").get<std::string>();
            if (c.contains("matched")) {
                auto want = c.at("matched").get<std::set<std::string>>();
                CHECK(r.matched == want);
                ok = ok && r.matched == want;
            }
            if (c.contains("unmatched")) {
                auto want = c.at("unmatched").get<std::set<std::string>>();
                CHECK(r.unmatched == want);
                ok = ok && r.unmatched == want;
            }
        }
        passed += ok;
    }
    CHECK(run == 56);
    WARN("process-word-cases.json: " << passed << "/" << run << " passed");
}

TEST_CASE("expansion basics", "[expand]") {
    EnvMap env{{"A", "x"}, {"E", ""}, {"P", "/usr/local/bin"}};
    CHECK(expand("$A$A", env) == "xx");
    CHECK(expand("${A}b", env) == "xb");
    CHECK(expand("${U-d}|${E-d}|${E:-d}", env) == "d||d");
    CHECK(expand("${U+d}|${E+d}|${E:+d}|${A:+d}", env) == "|d||d");
    CHECK(expand("${P#*/}", env) == "usr/local/bin");
    CHECK(expand("${P##*/}", env) == "bin");
    CHECK(expand("${P%/*}", env) == "/usr/local");
    CHECK(expand("${P%%/*}", env) == "");
    CHECK(expand("${P/local/opt}", env) == "/usr/opt/bin");
    CHECK(expand("${P//\\//:}", env) == ":usr:local:bin");
    CHECK(expand("'$A' \"$A\" \\$A", env) == "$A x $A");
    CHECK(expand("$", env) == "$");
    CHECK(expand("a\\", env) == "a");
}

TEST_CASE("expansion errors name the variable", "[expand]") {
    EnvMap env{{"E", ""}};
    CHECK_THROWS_WITH(expand("${FOO:?}", env), Catch::Contains("FOO: is not allowed to be unset"));
    CHECK_THROWS_WITH(expand("${E:?}", env), Catch::Contains("E: is not allowed to be empty"));
    CHECK_THROWS_WITH(expand("${E:?set it}", env), Catch::Contains("E: set it"));
    CHECK_THROWS_WITH(expand("${E=x}", env), Catch::Contains("unsupported modifier (=)"));
    CHECK_THROWS_WITH(expand("${E", env), Catch::Contains("missing '}'"));
    CHECK_THROWS_WITH(expand("x${}", env), Catch::Contains("failed to process \"x${}\""));
    CHECK_THROWS_AS(expand("${E#\\a}", env), kiln::Error);
}

TEST_CASE("backtick escape character", "[expand]") {
    ShellExpander sh('`');
    EnvMap env{{"A", "x"}};
    CHECK(sh.expand_word("C:\\dir\\$A", env) == "C:\\dir\\x");
    CHECK(sh.expand_word("`$A", env) == "$A");
    CHECK(sh.expand_word("\"a`\"b\"", env) == "a\"b");
    CHECK(sh.expand_words("a` b c", env) == std::vector<std::string>{"a b", "c"});
}

TEST_CASE("word splitting", "[expand]") {
    EnvMap env{{"S", " a  b "}};
    CHECK(words("x$S", env) == std::vector<std::string>{"x", "a", "b"});
    CHECK(words("\"x$S\"", env) == std::vector<std::string>{"x a  b "});
    CHECK(words("'' \"\" a", env) == std::vector<std::string>{"a"});
    CHECK(words("   ", env).empty());
}

TEST_CASE("options: raw quotes, skip unset", "[expand]") {
    kiln::parser::ExpandOptions o;
    o.raw_quotes = true;
    o.skip_unset_env = true;
    ShellExpander sh('\\', o);
    EnvMap env{{"A", "x"}};
    CHECK(sh.expand_word("'a' \"$A\" $U ${U} ${U:-d}", env) == "'a' \"x\" $U ${U} ${U:-d}");
}

TEST_CASE("patterns: greedy vs shortest, newlines and replace-all", "[expand]") {
    EnvMap env{{"V", "aXbXc"}, {"N", "a\nb"}, {"K", "한국어한국어"}};
    CHECK(expand("${V#*X}", env) == "bXc");
    CHECK(expand("${V##*X}", env) == "c");
    CHECK(expand("${V%X*}", env) == "aXb");
    CHECK(expand("${V%%X*}", env) == "a");
    CHECK(expand("${V//X/-}", env) == "a-b-c");
    CHECK(expand("${V/X*/-}", env) == "a-");
    // `*` and `?` do not cross a newline (Go regexp's `.`).
    CHECK(expand("${N#a?}", env) == "a\nb");
    CHECK(expand("${K#?}", env) == "국어한국어");
    CHECK(expand("${K%?}", env) == "한국어한국");
    CHECK(expand("${K//국/_}", env) == "한_어한_어");
}

TEST_CASE("hostile input is refused or handled, not crashed on", "[expand]") {
    std::string deep;
    for (int i = 0; i < 10000; ++i) deep += "${a:-";
    deep += "x";
    for (int i = 0; i < 10000; ++i) deep += "}";
    CHECK_THROWS_WITH(expand(deep), Catch::Contains("nested"));

    // Many stars against a long value stays polynomial.
    std::string value(3000, 'a');
    std::string pat;
    for (int i = 0; i < 200; ++i) pat += "*a";
    pat += "b";
    EnvMap env{{"V", value}};
    CHECK(expand("${V##" + pat + "}", env) == value);
    CHECK(expand("${V//" + pat + "/x}", env) == value);
}


// Cross-checks the hand matcher against std::regex (ECMAScript is leftmost-first like Go's
// regexp, and its `.` does not match '\n' either) on small random patterns.
TEST_CASE("pattern matcher agrees with a backtracking regex", "[expand]") {
    std::mt19937 rng(42);
    const char pat_chars[] = {'a', 'b', '?', '*'};
    const char val_chars[] = {'a', 'b', '\n'};
    for (int iter = 0; iter < 3000; ++iter) {
        std::string pat, val;
        int pl = static_cast<int>(rng() % 6), vl = static_cast<int>(rng() % 8);
        for (int i = 0; i < pl; ++i) pat += pat_chars[rng() % 4];
        for (int i = 0; i < vl; ++i) val += val_chars[rng() % 3];
        auto to_re = [&](bool greedy) {
            std::string re;
            for (char c : pat) {
                if (c == '*') re += greedy ? ".*" : ".*?";
                else if (c == '?') re += ".";
                else re += c;
            }
            return re;
        };
        EnvMap env{{"V", val}};
        INFO("pattern=" << pat << " value=" << val);
        for (bool greedy : {false, true}) {
            std::smatch m;
            std::regex re("^" + to_re(greedy));
            std::string want = val;
            if (std::regex_search(val, m, re)) want = val.substr(m.length(0));
            CHECK(expand(std::string("${V#") + (greedy ? "#" : "") + pat + "}", env) == want);
        }
        std::smatch m;
        std::string want = val;
        if (std::regex_search(val, m, std::regex(to_re(true)))) {
            want = val.substr(0, m.position(0)) + "X" + val.substr(m.position(0) + m.length(0));
        }
        if (!pat.empty()) CHECK(expand("${V/" + pat + "/X}", env) == want);
    }
}

TEST_CASE("invalid UTF-8 becomes U+FFFD as in BuildKit's scanner", "[expand]") {
    // Go's text/scanner reads runes; a stray byte is RuneError, written back as EF BF BD.
    CHECK(expand("a\xff" "b") == "a\xEF\xBF\xBD" "b");
    // Values are copied as bytes in single-word mode.
    EnvMap env{{"V", "x\xffy"}};
    CHECK(expand("$V", env) == "x\xffy");
}
