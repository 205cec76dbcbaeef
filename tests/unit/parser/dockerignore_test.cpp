#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "parser/dockerignore.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::parser::ContextFilter;
using kiln::parser::PatternMatcher;

namespace {

std::string data_dir() { return std::string(KILN_CONFORMANCE_DIR) + "/dockerignore"; }

// False when the file is absent (a clone without ../shared/conformance).
bool slurp(const std::string& path, std::string& out) {
    if (!kiln::path_exists(path)) return false;
    out = kiln::read_file(path);
    return true;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream ss(text);
    std::string line;
    while (std::getline(ss, line)) lines.push_back(line);
    return lines;
}

std::vector<std::string> tabs(const std::string& line) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto p = line.find('\t', start);
        out.push_back(line.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) return out;
        start = p + 1;
    }
}

bool excluded(const std::vector<std::string>& patterns, const std::string& path) {
    return PatternMatcher(patterns).matches(path);
}

std::vector<std::string> walk(const std::string& root, const std::vector<std::string>& include,
                              const std::vector<std::string>& exclude) {
    std::vector<std::string> out;
    kiln::parser::walk_context(root, ContextFilter(include, exclude),
                               [&](const kiln::parser::WalkEntry& e) {
                                   out.push_back(std::string(to_string(e.type)) + " " + e.path);
                               });
    return out;
}

void make_tree(const std::string& root, const nlohmann::json& tree) {
    for (const auto& node : tree) {
        std::string path = root + "/" + node.at("path").get<std::string>();
        if (node.at("type") == "dir") {
            REQUIRE(::mkdir(path.c_str(), 0755) == 0);
        } else {
            int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            REQUIRE(fd >= 0);
            ::close(fd);
        }
    }
}

}  // namespace

TEST_CASE("cases.tsv conformance", "[dockerignore][conformance]") {
    std::string text;
    std::string path = data_dir() + "/cases.tsv";
    if (!slurp(path, text)) {
        WARN("skipped: conformance data absent at " << path);
        return;
    }
    auto lines = lines_of(text);
    int run = 0, passed = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (lines[i].empty()) continue;
        auto f = tabs(lines[i]);
        REQUIRE(f.size() >= 5);
        std::string id = f[0], api = f[2], file = f[3], expected = f[4];
        std::vector<std::string> patterns(f.begin() + 5, f.end());
        ++run;
        INFO("cases.tsv id " << id << " (" << f[1] << ", " << api << "): path=" << file
                             << " line: " << lines[i]);
        std::string got;
        try {
            PatternMatcher pm(patterns);
            std::string p = file;
            bool m;
            if (api == "legacy") {
                p = kiln::clean_path(p);
                m = p != "." && pm.matches(p);
            } else {
                m = pm.matches(p);
            }
            got = m ? "true" : "false";
        } catch (const kiln::Error& e) {
            got = "error";
            CAPTURE(e.what());
        }
        CHECK(got == expected);
        passed += got == expected;
    }
    CHECK(run == 138);
    WARN("cases.tsv: " << passed << "/" << run << " passed");
}

TEST_CASE("compile.tsv conformance", "[dockerignore][conformance]") {
    std::string text;
    std::string path = data_dir() + "/compile.tsv";
    if (!slurp(path, text)) {
        WARN("skipped: conformance data absent at " << path);
        return;
    }
    auto lines = lines_of(text);
    int run = 0, passed = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (lines[i].empty()) continue;
        auto f = tabs(lines[i]);
        REQUIRE(f.size() >= 2);
        std::string re = f.size() > 2 ? f[2] : "";
        ++run;
        INFO("compile.tsv line " << (i + 1) << ": " << lines[i]);
        PatternMatcher pm({f[0]});
        REQUIRE(pm.patterns().size() == 1);
        const auto& p = pm.patterns()[0];
        CHECK(to_string(p.type()) == f[1]);
        CHECK(p.regexp() == re);
        passed += to_string(p.type()) == f[1] && p.regexp() == re;
    }
    CHECK(run == 21);
    WARN("compile.tsv: " << passed << "/" << run << " passed");
}

TEST_CASE("readall conformance", "[dockerignore][conformance]") {
    std::string input, expected;
    std::string dir = data_dir() + "/readall";
    if (!slurp(dir + "/input.dockerignore", input) || !slurp(dir + "/expected.txt", expected)) {
        WARN("skipped: conformance data absent at " << dir);
        return;
    }
    CHECK(kiln::parser::read_dockerignore(input) == lines_of(expected));
}

TEST_CASE("walk-cases.json conformance", "[dockerignore][conformance]") {
    std::string text;
    std::string path = data_dir() + "/walk-cases.json";
    if (!slurp(path, text)) {
        WARN("skipped: conformance data absent at " << path);
        return;
    }
    auto doc = nlohmann::json::parse(text);
    int run = 0, passed = 0, index = 0;
    for (const auto& c : doc.at("cases")) {
        ++index;
        ++run;
        INFO("walk case #" << index << " " << c.at("source").get<std::string>()
                           << " include=" << c.at("include").dump()
                           << " exclude=" << c.at("exclude").dump());
        kiln::TempDir tmp("/tmp", "kiln-walk-");
        make_tree(tmp.path(), c.at("tree"));
        auto include = c.at("include").get<std::vector<std::string>>();
        auto exclude = c.at("exclude").get<std::vector<std::string>>();
        bool ok = true;
        if (c.value("error", false)) {
            bool threw = false;
            try {
                walk(tmp.path(), include, exclude);
            } catch (const kiln::Error&) {
                threw = true;
            }
            CHECK(threw);
            ok = threw;
        } else {
            if (c.contains("expected_walk")) {
                auto got = walk(tmp.path(), include, exclude);
                auto want = c.at("expected_walk").get<std::vector<std::string>>();
                CHECK(got == want);
                ok = ok && got == want;
            }
            ContextFilter filter(include, exclude);
            for (const auto& p : c.value("present", nlohmann::json::array())) {
                CAPTURE(p.get<std::string>());
                CHECK(filter.visible(p.get<std::string>()));
                ok = ok && filter.visible(p.get<std::string>());
            }
            for (const auto& p : c.value("absent", nlohmann::json::array())) {
                CAPTURE(p.get<std::string>());
                CHECK_FALSE(filter.visible(p.get<std::string>()));
                ok = ok && !filter.visible(p.get<std::string>());
            }
        }
        passed += ok;
    }
    CHECK(run == 27);
    WARN("walk-cases.json: " << passed << "/" << run << " passed");
}

TEST_CASE("reading a .dockerignore", "[dockerignore]") {
    using kiln::parser::read_dockerignore;
    CHECK(read_dockerignore("\xEF\xBB\xBFnode_modules\r\n# c\n  #x \n\n!  /a/../b/\n/\n") ==
          std::vector<std::string>{"node_modules", "#x", "!b", "/"});
    CHECK(read_dockerignore("").empty());
}

TEST_CASE("pattern semantics", "[dockerignore]") {
    CHECK(excluded({"*.go", "!keep.go"}, "a.go"));
    CHECK_FALSE(excluded({"*.go", "!keep.go"}, "keep.go"));
    CHECK(excluded({"!keep.go", "*.go"}, "keep.go"));
    CHECK(excluded({"build"}, "build/x/y"));
    CHECK_FALSE(excluded({"build"}, "builder"));
    CHECK(excluded({"**/*.pyc"}, "a/b/c.pyc"));
    CHECK(excluded({"**/*.pyc"}, "c.pyc"));
    CHECK_FALSE(excluded({"a/*.txt"}, "a/b/c.txt"));
    CHECK(excluded({"a/**/c"}, "a/c"));
    CHECK(excluded({"a/**/c"}, "a/b/b/c"));
    CHECK(excluded({"[a-c]?"}, "bz"));
    CHECK_FALSE(excluded({"[^a-c]?"}, "bz"));
    CHECK(excluded({"ζ*"}, "ζeta"));
    CHECK_THROWS_AS(PatternMatcher({"!"}), kiln::Error);
    CHECK_THROWS_AS(PatternMatcher({"a["}), kiln::Error);
    CHECK_THROWS_AS(PatternMatcher({"[z-a]"}), kiln::Error);
    CHECK(PatternMatcher({"", "   "}).empty());
}

TEST_CASE("walker lists symlinks without following them and skips excluded dirs",
          "[dockerignore]") {
    kiln::TempDir tmp("/tmp", "kiln-walk-");
    const std::string& r = tmp.path();
    kiln::mkdir_p(r + "/d/sub");
    kiln::mkdir_p(r + "/skipped");
    REQUIRE(::symlink("d", (r + "/link").c_str()) == 0);
    REQUIRE(::symlink("/etc", (r + "/d/etc").c_str()) == 0);
    // Unreadable but excluded: must not be opened (as root, open would succeed anyway).
    REQUIRE(::chmod((r + "/skipped").c_str(), 0) == 0);
    CHECK(walk(r, {}, {"skipped"}) ==
          std::vector<std::string>{"dir d", "symlink d/etc", "dir d/sub", "symlink link"});
    ::chmod((r + "/skipped").c_str(), 0755);

    std::vector<std::string> seen;
    kiln::parser::walk_context(r, PatternMatcher({"d", "!d/sub"}), {},
                               [&](const kiln::parser::WalkEntry& e) {
                                   seen.push_back(e.path);
                                   CHECK(S_ISDIR(e.st.st_mode) == (e.path != "link"));
                                   if (e.path == "link") CHECK(e.link_target == "d");
                               });
    CHECK(seen == std::vector<std::string>{"d", "d/sub", "link", "skipped"});
}

// The token matcher must agree with the regexp patternmatcher would compile (checked with
// std::regex, whose ECMAScript syntax reads these regexps the same way for this alphabet).
TEST_CASE("pattern matcher agrees with its regexp", "[dockerignore]") {
    std::mt19937 rng(7);
    const std::string pat_chars = "ab/*?.[]^-\\";
    const std::string path_chars = "ab/.-";
    int compared = 0;
    for (int iter = 0; iter < 4000; ++iter) {
        std::string pat, path;
        for (int i = 0, n = static_cast<int>(rng() % 7) + 1; i < n; ++i) pat += pat_chars[rng() % pat_chars.size()];
        for (int i = 0, n = static_cast<int>(rng() % 7); i < n; ++i) path += path_chars[rng() % path_chars.size()];
        std::optional<PatternMatcher> pm;
        try {
            pm.emplace(std::vector<std::string>{pat});
        } catch (const kiln::Error&) {
            continue;
        }
        if (pm->patterns().empty()) continue;
        const auto& p = pm->patterns()[0];
        if (p.type() != kiln::parser::MatchType::regexp) continue;
        // '^' is an anchor in Go's regexp: patternmatcher's quirk, deliberately not copied.
        if (p.text().find('^') != std::string::npos &&
            p.text().find('[') == std::string::npos) continue;
        std::regex re;
        try {
            re = std::regex(p.regexp());
        } catch (const std::regex_error&) {
            continue;
        }
        INFO("pattern=" << p.text() << " regexp=" << p.regexp() << " path=" << path);
        CHECK(p.match(path) == std::regex_match(path, re));
        ++compared;
    }
    CHECK(compared > 500);
}

TEST_CASE("load_dockerignore prefers the Dockerfile-specific file", "[dockerignore]") {
    kiln::TempDir tmp("/tmp", "kiln-ignore-");
    const std::string& r = tmp.path();
    CHECK(kiln::parser::load_dockerignore(r, r + "/Dockerfile").empty());
    kiln::atomic_write(r + "/.dockerignore", "ba*\n");
    CHECK(kiln::parser::load_dockerignore(r, r + "/Dockerfile") ==
          std::vector<std::string>{"ba*"});
    kiln::atomic_write(r + "/Dockerfile2.dockerignore", "!\n");
    CHECK(kiln::parser::load_dockerignore(r, r + "/Dockerfile2") == std::vector<std::string>{"!"});
    CHECK(kiln::parser::load_dockerignore(r, r + "/Dockerfile") ==
          std::vector<std::string>{"ba*"});
}
