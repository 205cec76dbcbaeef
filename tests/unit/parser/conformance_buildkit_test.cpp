// BuildKit's own parser fixtures (shared/conformance/buildkit-parser), read in place.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "parser/parse.hpp"
#include "util/fs.hpp"

namespace fs = std::filesystem;
using kiln::parser::Dockerfile;
using kiln::parser::parse_dockerfile;

namespace {

const fs::path kFixtures = fs::path(KILN_CONFORMANCE_DIR) / "buildkit-parser";

bool fixtures_present() {
    if (fs::is_directory(kFixtures)) return true;
    WARN("buildkit-parser conformance skipped: conformance data absent at " << kFixtures);
    SUCCEED();
    return false;
}

std::string read_file(const fs::path& path) { return kiln::read_file(path.string()); }

std::vector<fs::path> sorted_dirs(const fs::path& root) {
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(root)) {
        if (entry.is_directory()) dirs.push_back(entry.path());
    }
    std::sort(dirs.begin(), dirs.end());
    return dirs;
}

// Tab-separated rows after the header line.
std::vector<std::pair<std::string, std::string>> read_tsv(const fs::path& path) {
    std::vector<std::pair<std::string, std::string>> rows;
    std::istringstream in(read_file(path));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        const auto tab = line.find('\t');
        if (tab == std::string::npos) continue;
        rows.emplace_back(line.substr(0, tab), line.substr(tab + 1));
    }
    return rows;
}

}  // namespace

TEST_CASE("buildkit cases dump byte for byte", "[conformance][parser]") {
    if (!fixtures_present()) return;
    int passed = 0;
    int total = 0;
    for (const fs::path& dir : sorted_dirs(kFixtures / "cases")) {
        const std::string name = dir.filename().string();
        INFO("case " << name);
        ++total;
        std::string dumped;
        try {
            dumped = kiln::parser::dump(parse_dockerfile(read_file(dir / "Dockerfile"), name));
        } catch (const kiln::parser::ParseError& error) {
            FAIL_CHECK("parse failed: " << error.render());
            continue;
        }
        const std::string expected = read_file(dir / "result");
        CHECK(dumped == expected);
        if (dumped == expected) ++passed;
    }
    WARN("buildkit-parser cases: " << passed << "/" << total << " dump byte for byte");
    CHECK(total == 33);
    CHECK(passed == total);
}

TEST_CASE("buildkit negative cases are rejected", "[conformance][parser]") {
    if (!fixtures_present()) return;
    int rejected = 0;
    for (const fs::path& dir : sorted_dirs(kFixtures / "negative")) {
        const std::string name = dir.filename().string();
        INFO("negative case " << name);
        CHECK_THROWS_AS(parse_dockerfile(read_file(dir / "Dockerfile"), name),
                        kiln::parser::ParseError);
        try {
            parse_dockerfile(read_file(dir / "Dockerfile"), name);
        } catch (const kiln::parser::ParseError&) {
            ++rejected;
        }
    }
    WARN("buildkit-parser negative: " << rejected << "/4 rejected");
    CHECK(rejected == 4);
}

TEST_CASE("buildkit heredoc expectations", "[conformance][parser][heredoc]") {
    if (!fixtures_present()) return;
    const fs::path dir = kFixtures / "heredoc";

    SECTION("Dockerfile: heredocs attached to each instruction") {
        const Dockerfile file = parse_dockerfile(read_file(dir / "Dockerfile"));
        const auto expected = nlohmann::json::parse(read_file(dir / "expected.json"));
        const auto& instructions = expected.at("instructions");
        REQUIRE(file.instructions.size() == instructions.size());
        for (const auto& want : instructions) {
            const auto index = want.at("index").get<std::size_t>();
            const auto& got = file.instructions[index];
            INFO("instruction " << index << ": " << want.at("first_line").get<std::string>());
            CHECK(file.lines[static_cast<std::size_t>(got.range.start.line) - 1] ==
                  want.at("first_line").get<std::string>());
            if (want.at("heredocs").is_null()) continue;
            const auto& docs = want.at("heredocs");
            REQUIRE(got.heredocs.size() == docs.size());
            for (std::size_t i = 0; i < docs.size(); ++i) {
                CHECK(got.heredocs[i].name == docs[i].at("name").get<std::string>());
                CHECK(got.heredocs[i].content == docs[i].at("content").get<std::string>());
                CHECK(got.heredocs[i].expand == docs[i].at("expand").get<bool>());
                CHECK(got.heredocs[i].chomp == docs[i].at("chomp").get<bool>());
                CHECK(got.heredocs[i].fd == docs[i].at("fd").get<int>());
            }
        }
    }

    SECTION("Dockerfile.json-form: exec form never opens a heredoc") {
        const Dockerfile file = parse_dockerfile(read_file(dir / "Dockerfile.json-form"));
        CHECK(file.instructions.size() == 4);
        for (const auto& instruction : file.instructions) {
            INFO(instruction.original);
            CHECK(instruction.heredocs.empty());
        }
    }

    SECTION("words.tsv") {
        const auto rows = read_tsv(dir / "words.tsv");
        CHECK(rows.size() == 20);
        for (const auto& [word, expected] : rows) {
            INFO("word [" << word << "] expected " << expected);
            if (expected == "ERROR") {
                CHECK_THROWS_AS(kiln::parser::parse_heredoc_word(word), kiln::Error);
            } else if (expected == "NONE") {
                CHECK_FALSE(kiln::parser::parse_heredoc_word(word).has_value());
            } else {
                const auto heredoc = kiln::parser::parse_heredoc_word(word);
                REQUIRE(heredoc.has_value());
                CHECK(heredoc->name == expected);
            }
        }
    }

    SECTION("lines.tsv") {
        const auto rows = read_tsv(dir / "lines.tsv");
        CHECK(rows.size() == 9);
        for (const auto& [line, expected] : rows) {
            INFO("line [" << line << "] expected [" << expected << "]");
            std::string names;
            for (const auto& heredoc : kiln::parser::heredocs_in_line(line)) {
                names += (names.empty() ? "" : ",") + heredoc.name;
            }
            CHECK(names == expected);
        }
    }
}

TEST_CASE("buildkit line-info expectations", "[conformance][parser]") {
    if (!fixtures_present()) return;
    const fs::path dir = kFixtures / "line-info";
    const Dockerfile file = parse_dockerfile(read_file(dir / "Dockerfile"));
    const auto expected = nlohmann::json::parse(read_file(dir / "expected.json"));
    REQUIRE_FALSE(file.instructions.empty());
    CHECK(file.instructions.front().range.start.line == expected.at("root")[0].get<int>());
    CHECK(file.instructions.back().range.end.line == expected.at("root")[1].get<int>());
    const auto& ranges = expected.at("instructions");
    REQUIRE(file.instructions.size() == ranges.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        INFO("instruction " << i);
        CHECK(file.instructions[i].range.start.line == ranges[i][0].get<int>());
        CHECK(file.instructions[i].range.end.line == ranges[i][1].get<int>());
    }
}

TEST_CASE("buildkit warnings expectations", "[conformance][parser]") {
    if (!fixtures_present()) return;
    const fs::path dir = kFixtures / "warnings";
    const Dockerfile file = parse_dockerfile(read_file(dir / "Dockerfile"));
    const auto expected = nlohmann::json::parse(read_file(dir / "expected.json"));
    const auto& warnings = expected.at("warnings");
    REQUIRE(file.warnings.size() == warnings.size());
    for (std::size_t i = 0; i < warnings.size(); ++i) {
        INFO("warning " << i << ": " << file.warnings[i].message);
        for (const auto& part : warnings[i].at("short_contains")) {
            CHECK(file.warnings[i].message.find(part.get<std::string>()) != std::string::npos);
        }
        if (warnings[i].contains("detail_contains")) {
            const auto detail = warnings[i].at("detail_contains").get<std::string>();
            CHECK(file.warnings[i].detail.find(detail) != std::string::npos);
        }
    }
}
