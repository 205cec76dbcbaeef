#include <catch2/catch.hpp>

#include "builder/run_image.hpp"
#include "util/error.hpp"

using kiln::builder::container_args;
using kiln::builder::parse_memory_size;
using kiln::builder::RunOptions;

TEST_CASE("memory sizes use docker's binary units", "[builder][run]") {
    CHECK(parse_memory_size("1024") == 1024);
    CHECK(parse_memory_size("512m") == 512LL << 20);
    CHECK(parse_memory_size("1G") == 1LL << 30);
    CHECK(parse_memory_size("2kb") == 2048);
    CHECK(parse_memory_size("1.5g") == 3LL << 29);
    CHECK_THROWS_AS(parse_memory_size("lots"), kiln::Error);
    CHECK_THROWS_AS(parse_memory_size("5x"), kiln::Error);
    CHECK_THROWS_AS(parse_memory_size("-1m"), kiln::Error);
    CHECK_THROWS_AS(parse_memory_size(""), kiln::Error);
}

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
