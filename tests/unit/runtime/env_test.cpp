#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "runtime/env.hpp"

using Env = std::vector<std::string>;

TEST_CASE("env_lookup finds the last definition of a key", "[runtime][env]") {
    Env env = {"A=1", "AB=2", "A=3", "EMPTY=", "NOEQUALS"};
    CHECK(std::string(kiln::runtime::env_lookup(env, "A")) == "3");
    CHECK(std::string(kiln::runtime::env_lookup(env, "AB")) == "2");
    CHECK(std::string(kiln::runtime::env_lookup(env, "EMPTY")).empty());
    CHECK(kiln::runtime::env_lookup(env, "NOEQUALS") == nullptr);
    CHECK(kiln::runtime::env_lookup(env, "B") == nullptr);
}

TEST_CASE("default_env adds PATH and HOSTNAME only when absent", "[runtime][env]") {
    CHECK(kiln::runtime::default_env({}, "abc") ==
          Env{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=abc"});
    CHECK(kiln::runtime::default_env({"PATH=/bin", "X=1"}, "abc") == Env{"HOSTNAME=abc", "PATH=/bin", "X=1"});
    CHECK(kiln::runtime::default_env({"HOSTNAME=h", "PATH=/x"}, "abc") == Env{"HOSTNAME=h", "PATH=/x"});
}
