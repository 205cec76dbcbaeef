// `kiln search REGISTRY/TERM` against real registries (their /v2/_catalog: distribution has
// no /v1/search): docker search's table, --limit, --format, and a registry that is down.
#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>
#include <sstream>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// A table line cut at runs of 2+ spaces (docker's tabwriter pads columns with at least 3).
std::vector<std::string> columns(const std::string& line) {
    std::vector<std::string> out;
    std::regex gap(" {2,}");
    for (std::sregex_token_iterator it(line.begin(), line.end(), gap, -1), end; it != end; ++it)
        if (!it->str().empty()) out.push_back(*it);
    return out;
}

}  // namespace

TEST_CASE("kiln search lists the matching repositories of the registry it names, as docker search does",
          "[registry][search]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    RegistryServer other;
    for (const char* repo : {"team/webapp:1", "team/webtool:1", "data/postgres:1"}) push_test_image(reg, repo);
    push_test_image(other, "team/webshop:1");
    Kiln kiln;
    const std::string app = reg.host() + "/team/webapp", tool = reg.host() + "/team/webtool";

    auto table = kiln({"search", reg.host() + "/web"});
    INFO(table.out << table.err);
    REQUIRE(table.exit_code == 0);
    auto lines = lines_of(table.out);
    REQUIRE(lines.size() == 3);
    CHECK(columns(lines[0]) == std::vector<std::string>{"NAME", "DESCRIPTION", "STARS", "OFFICIAL"});
    // The header's columns line up with the rows: DESCRIPTION starts after the longest name.
    CHECK(lines[0].find("DESCRIPTION") > tool.size());
    // A catalog has no descriptions, stars or official flags: those columns stay empty.
    CHECK(trimmed(lines[1]) == app);
    CHECK(trimmed(lines[2]) == tool);
    CHECK(table.out.find("postgres") == std::string::npos);
    CHECK(table.out.find("webshop") == std::string::npos);

    auto limited = kiln({"search", "--limit", "1", reg.host() + "/web"});
    REQUIRE(limited.exit_code == 0);
    CHECK(lines_of(limited.out).size() == 2);
    CHECK(trimmed(lines_of(limited.out)[1]) == app);

    auto names = kiln({"search", "--format", "{{.Name}}", reg.host() + "/web"});
    REQUIRE(names.exit_code == 0);
    CHECK(names.out == app + "\n" + tool + "\n");

    // The other registry answers for its own repositories only.
    auto elsewhere = kiln({"search", "--format", "{{.Name}}", other.host() + "/web"});
    REQUIRE(elsewhere.exit_code == 0);
    CHECK(elsewhere.out == other.host() + "/team/webshop\n");

    // Nothing matches: the header alone, and success, as docker search.
    auto none = kiln({"search", reg.host() + "/nomatch"});
    CHECK(none.exit_code == 0);
    CHECK(lines_of(none.out).size() == 1);
}

TEST_CASE("kiln search of a registry that is down, or with a bad limit, is a one-line error and exit 1",
          "[registry][search]") {
    REQUIRE_REGISTRY();
    Kiln kiln;
    const std::string down = "127.0.0.1:" + std::to_string(free_port());
    auto r = kiln({"search", down + "/web"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("kiln: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("registry " + down) != std::string::npos);

    RegistryServer reg;
    for (const char* limit : {"0", "101"}) {
        auto bad = kiln({"search", "--limit", limit, reg.host() + "/web"});
        INFO(bad.err);
        CHECK(bad.exit_code == 1);
        CHECK(bad.err.find(std::string("limit ") + limit + " is outside the range of [1, 100]") != std::string::npos);
        CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
    }
}
