// kiln adds a command's options only up to the group that has it (cli/main.cpp): each
// command and each management subcommand must still parse as when every group is there.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

// The names under "Subcommands:" in one command's help text.
std::vector<std::string> subcommands_in(const std::string& help) {
    std::vector<std::string> names;
    std::istringstream lines(help);
    std::string line;
    bool in_list = false;
    while (std::getline(lines, line)) {
        if (line.starts_with("Subcommands:")) {
            in_list = true;
            continue;
        }
        if (!in_list) continue;
        if (line.empty() || line[0] != ' ') break;
        std::istringstream words(line);
        std::string name;
        if (words >> name) names.push_back(name);
    }
    return names;
}

// `--help-all` (every group registered): each management command with its subcommands.
std::map<std::string, std::vector<std::string>> groups_in(const std::string& help_all) {
    std::map<std::string, std::vector<std::string>> groups;
    std::istringstream lines(help_all);
    std::string line, command;
    bool in_list = false;
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] != ' ') {
            command = line;
            in_list = false;
        } else if (line == "  Subcommands:") {
            in_list = true;
        } else if (in_list && line.starts_with("    ")) {
            std::istringstream words(line);
            std::string name;
            if (words >> name) groups[command].push_back(name);
        } else {
            in_list = false;
        }
    }
    return groups;
}

}  // namespace

TEST_CASE("every command kiln lists answers --help, the management groups' subcommands too", "[cli]") {
    kiln::test::Kiln kiln;
    auto top = kiln({"--help"});
    REQUIRE(top.exit_code == 0);
    const auto commands = subcommands_in(top.out);
    REQUIRE(commands.size() > 40);
    for (const auto& command : commands) {
        INFO("kiln " << command << " --help");
        auto help = kiln({command, "--help"});
        CHECK(help.exit_code == 0);
        CHECK(help.out.find("Usage: ") != std::string::npos);
        CHECK(help.out.find(" " + command) != std::string::npos);
    }

    // Several groups add to one management command: each of its subcommands must be there.
    auto all = kiln({"--help-all"});
    REQUIRE(all.exit_code == 0);
    const auto groups = groups_in(all.out);
    REQUIRE(groups.count("image"));
    REQUIRE(groups.count("container"));
    for (const auto& [group, subs] : groups) {
        INFO("kiln " << group << " --help");
        auto help = kiln({group, "--help"});
        CHECK(help.exit_code == 0);
        CHECK(subcommands_in(help.out) == subs);
        for (const auto& sub : subs) {
            INFO("kiln " << group << " " << sub << " --help");
            auto sub_help = kiln({group, sub, "--help"});
            CHECK(sub_help.exit_code == 0);
            CHECK(sub_help.out.find(" " + sub) != std::string::npos);
        }
    }

    // What is not a command still gets the full list's answer: Docker's 125.
    CHECK(kiln({"nosuchcommand"}).exit_code == 125);
    CHECK(kiln({"ps", "--nosuchflag"}).exit_code == 125);
}
