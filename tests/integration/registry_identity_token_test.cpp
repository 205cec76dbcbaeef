// An identity token in docker's config.json ("identitytoken", what `docker login` stores for
// an OAuth2 registry): kiln exchanges it at the realm as a refresh_token POST, as the docker
// CLI does, and never has the password.
#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

// A refresh token for user:password from the realm (the password grant, as `docker login`
// does against an OAuth2 token server).
std::string refresh_token(const RegistryServer& reg, const std::string& user, const std::string& password) {
    auto r = run_command({"curl", "-sf", "--max-time", "30", "-X", "POST", "--data-urlencode", "grant_type=password",
                          "--data-urlencode", "username=" + user, "--data-urlencode", "password=" + password,
                          "--data-urlencode", std::string("service=") + RegistryServer::token_service,
                          "--data-urlencode", "client_id=kiln-test", reg.token_realm()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto token = nlohmann::json::parse(r.out).value("refresh_token", "");
    REQUIRE(!token.empty());
    return token;
}

void store_identity_token(const PullKiln& kiln, const std::string& host, const std::string& token) {
    nlohmann::json config = {{"auths", {{host, {{"identitytoken", token}}}}}};
    atomic_write(kiln.config.path() + "/config.json", config.dump(), 0600);
}

}  // namespace

TEST_CASE("an identitytoken in config.json is exchanged at the realm as an OAuth2 refresh token",
          "[registry][auth][identity-token]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.token_users = {{"alice", "tok-pw"}}});
    push_test_image(reg, "alice/src:1");
    PullKiln kiln;
    const std::string source = reg.host() + "/alice/src:1", target = reg.host() + "/alice/copy:1";
    REQUIRE(kiln({"pull", "-q", source}).exit_code == 0);
    REQUIRE(kiln({"tag", source, target}).exit_code == 0);

    // Pushing under alice/ needs alice's account: anonymous tokens grant pull only.
    auto anonymous = kiln({"push", target});
    CHECK(anonymous.exit_code == 1);

    const std::string token = refresh_token(reg, "alice", "tok-pw");
    store_identity_token(kiln, reg.host(), token);
    const std::size_t seen = reg.token_log().size();
    auto pushed = kiln({"push", target});
    INFO(pushed.out << pushed.err);
    REQUIRE(pushed.exit_code == 0);
    CHECK(pushed.out.find(token) == std::string::npos);

    auto log = reg.token_log();
    int refreshed = 0;
    for (std::size_t i = seen; i < log.size(); ++i) {
        const auto& request = log[i];
        INFO(request.method << " " << request.grant_type << " " << request.account);
        if (request.account.empty()) continue;  // an anonymous token for the mount source, say
        CHECK(request.method == "POST");
        CHECK(request.grant_type == "refresh_token");
        CHECK(request.account == "alice");
        refreshed += std::find(request.granted.begin(), request.granted.end(), "repository:alice/copy:pull,push") !=
                     request.granted.end();
    }
    // One token per scope set (the mount from alice/src widens it), each from the refresh token.
    CHECK(refreshed >= 1);

    // A token the realm does not know: one line, exit 1, the token not repeated.
    store_identity_token(kiln, reg.host(), "not-a-token-the-realm-issued");
    REQUIRE(kiln({"tag", source, reg.host() + "/alice/other:1"}).exit_code == 0);
    auto refused = kiln({"push", reg.host() + "/alice/other:1"});
    INFO(refused.err);
    CHECK(refused.exit_code == 1);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
    CHECK(refused.err.find("not-a-token-the-realm-issued") == std::string::npos);
    CHECK(refused.err.find(reg.host()) != std::string::npos);
}
