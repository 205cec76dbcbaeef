#include <catch2/catch.hpp>

#include "runtime/monitor/restart_rules.hpp"
#include "runtime/restart_policy.hpp"
#include "util/error.hpp"

using kiln::runtime::parse_restart_policy;
using kiln::runtime::RestartPolicy;

TEST_CASE("--restart values parse and are checked as Docker's", "[runtime][restart]") {
    CHECK(parse_restart_policy("") == RestartPolicy{"no", 0});
    CHECK(parse_restart_policy("always") == RestartPolicy{"always", 0});
    CHECK(parse_restart_policy("unless-stopped") == RestartPolicy{"unless-stopped", 0});
    CHECK(parse_restart_policy("on-failure") == RestartPolicy{"on-failure", 0});
    CHECK(parse_restart_policy("on-failure:3") == RestartPolicy{"on-failure", 3});
    CHECK_THROWS_WITH(parse_restart_policy("sometimes"),
                      "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or "
                      "'unless-stopped'");
    CHECK_THROWS_WITH(parse_restart_policy("always:3"),
                      "invalid restart policy: maximum retry count can only be used with 'on-failure'");
    CHECK_THROWS_WITH(parse_restart_policy("on-failure:x"),
                      "invalid restart policy format: maximum retry count must be an integer");
    CHECK_THROWS_AS(parse_restart_policy("on-failure:-1"), kiln::Error);
    CHECK_THROWS_AS(parse_restart_policy(":3"), kiln::Error);
}

TEST_CASE("the restart decision and backoff follow Docker's restart manager", "[runtime][restart]") {
    using kiln::runtime::next_restart_delay_ms;
    using kiln::runtime::should_restart;
    CHECK(should_restart("always", 0, 100, 0));
    CHECK(should_restart("unless-stopped", 0, 0, 0));
    CHECK_FALSE(should_restart("no", 0, 0, 1));
    CHECK_FALSE(should_restart("on-failure", 0, 0, 0));
    CHECK(should_restart("on-failure", 0, 1000, 1));
    CHECK(should_restart("on-failure", 2, 1, 1));
    CHECK_FALSE(should_restart("on-failure", 2, 2, 1));
    CHECK(next_restart_delay_ms(0, 0) == 100);
    CHECK(next_restart_delay_ms(100, 1'000'000) == 200);
    CHECK(next_restart_delay_ms(51200, 0) == 60000);
    CHECK(next_restart_delay_ms(60000, 0) == 60000);
    CHECK(next_restart_delay_ms(6400, 10'000'000'000) == 100);  // a long run resets it
}
