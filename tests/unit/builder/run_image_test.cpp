#include <catch2/catch.hpp>

#include "builder/run_image.hpp"

using kiln::builder::container_args;
using kiln::builder::RunOptions;

TEST_CASE("the container command combines ENTRYPOINT and CMD as docker does", "[builder][run]") {
    RunOptions none;
    CHECK(container_args({"/e"}, {"a"}, none) == std::vector<std::string>{"/e", "a"});
    RunOptions cmd;
    cmd.command = {"b"};
    CHECK(container_args({"/e"}, {"a"}, cmd) == std::vector<std::string>{"/e", "b"});
    RunOptions entry;
    entry.entrypoint = "/x";
    CHECK(container_args({"/e"}, {"a"}, entry) == std::vector<std::string>{"/x"});
    entry.entrypoint = "";
    entry.command = {"sh"};
    CHECK(container_args({"/e"}, {"a"}, entry) == std::vector<std::string>{"sh"});
}
