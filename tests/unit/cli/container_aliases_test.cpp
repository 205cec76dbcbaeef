#include <catch2/catch.hpp>

#include "cli/container_aliases.hpp"

using kiln::cli::resolve_container_alias;
using Args = std::vector<std::string>;

TEST_CASE("kiln container VERB is kiln VERB, after the global options", "[cli][aliases]") {
    CHECK(resolve_container_alias({"container", "ls", "-a"}) == Args{"ps", "-a"});
    CHECK(resolve_container_alias({"container", "list"}) == Args{"ps"});
    CHECK(resolve_container_alias({"container", "ps", "-q"}) == Args{"ps", "-q"});
    CHECK(resolve_container_alias({"--root", "/s", "--debug", "container", "exec", "c", "container", "ls"}) ==
          Args{"--root", "/s", "--debug", "exec", "c", "container", "ls"});
    CHECK(resolve_container_alias({"--root=/s", "container", "run", "--rm", "img"}) ==
          Args{"--root=/s", "run", "--rm", "img"});
    for (const auto& verb : kiln::cli::container_alias_verbs()) {
        auto resolved = resolve_container_alias({"container", verb, "x"});
        REQUIRE(resolved.size() == 2);
        CHECK(resolved[1] == "x");
    }
}

TEST_CASE("kiln container's own commands, unknown verbs and other commands are left as they are", "[cli][aliases]") {
    for (const Args& args : {Args{"container", "inspect", "c"}, Args{"container", "prune", "-f"}, Args{"container"},
                             Args{"container", "--help"}, Args{"container", "frobnicate"}, Args{"ps", "container", "ls"},
                             Args{"--root", "container", "ls"}, Args{}})
        CHECK(resolve_container_alias(args) == args);
}
