// Credentials and transport security against real registries: htpasswd basic auth with
// `kiln login`, the bearer-token flow with its token cache, and TLS through certs.d.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

// kiln with a credentials folder of its own (--config).
struct AuthKiln : Kiln {
    TempDir config{"/tmp", "kiln-it-auth-config-"};
    CommandResult operator()(std::vector<std::string> args, const std::string& input = "") const {
        args.insert(args.begin(), {"--config", config.path()});
        return Kiln::operator()(std::move(args), input);
    }
};


// KILN_CONFIG for the duration of a test (kiln's settings: certs.d lives beside it).
struct SettingsFile {
    TempDir dir{"/tmp", "kiln-it-settings-"};
    std::string path = dir.path() + "/config.json";
    SettingsFile() {
        atomic_write(path, "{}\n");
        ::setenv("KILN_CONFIG", path.c_str(), 1);
    }
    ~SettingsFile() { ::unsetenv("KILN_CONFIG"); }
    std::string certs_d() const { return dir.path() + "/certs.d"; }
};

}  // namespace

TEST_CASE("kiln login checks htpasswd credentials and stores them as the docker CLI does", "[registry][auth]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.htpasswd = {{"alice", "s3cret-pw"}}});
    AuthKiln kiln;
    std::string file = kiln.config.path() + "/config.json";

    auto wrong = kiln({"login", "-u", "alice", "--password-stdin", reg.host()}, "not-it\n");
    CHECK(wrong.exit_code == 1);
    CHECK_FALSE(path_exists(file));
    CHECK(wrong.err.find("not-it") == std::string::npos);

    std::string name = reg.host() + "/app:1";
    build_small_image(kiln, name);
    auto anonymous = kiln({"push", name});
    CHECK(anonymous.exit_code == 1);

    auto ok = kiln({"login", "-u", "alice", "--password-stdin", reg.host()}, "s3cret-pw\n");
    INFO(ok.err);
    REQUIRE(ok.exit_code == 0);
    CHECK(ok.out.find("Login Succeeded") != std::string::npos);
    struct stat st{};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto doc = nlohmann::json::parse(read_file(file));
    CHECK(doc["auths"][reg.host()]["auth"] == "YWxpY2U6czNjcmV0LXB3");  // base64("alice:s3cret-pw")

    auto pushed = kiln({"push", name});
    INFO(pushed.err);
    CHECK(pushed.exit_code == 0);
    CHECK(pushed.out.find("s3cret-pw") == std::string::npos);
    CHECK(kiln({"inspect", name}).out.find("s3cret-pw") == std::string::npos);

    auto out = kiln({"logout", reg.host()});
    CHECK(out.exit_code == 0);
    CHECK(out.out.find("Removing login credentials for " + reg.host()) != std::string::npos);
    CHECK(nlohmann::json::parse(read_file(file))["auths"].count(reg.host()) == 0);
}

TEST_CASE("token auth: a push asks the realm for pull,push and reuses the token", "[registry][auth]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.token_users = {{"alice", "tok-pw"}}});
    AuthKiln kiln;
    REQUIRE(kiln({"login", "-u", "alice", "--password-stdin", reg.host()}, "tok-pw\n").exit_code == 0);
    std::string name = reg.host() + "/alice/app:1";
    build_small_image(kiln, name);
    auto pushed = kiln({"push", name});
    INFO(pushed.out << pushed.err);
    REQUIRE(pushed.exit_code == 0);

    int push_tokens = 0;
    for (const auto& request : reg.token_log())
        for (const auto& scope : request.scopes)
            if (scope == "repository:alice/app:pull,push") {
                ++push_tokens;
                CHECK(request.account == "alice");
            }
    // One token for the whole push (blobs in parallel, then the manifest), not one per request.
    CHECK(push_tokens == 1);

    // Someone else's namespace: the token server grants only pull, the registry refuses.
    std::string foreign = reg.host() + "/bob/app:1";
    REQUIRE(kiln({"tag", name, foreign}).exit_code == 0);
    auto refused = kiln({"push", foreign});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("tok-pw") == std::string::npos);

    // Anonymous pulls are granted: a fresh store pulls what alice pushed.
    AuthKiln stranger;
    auto pulled = stranger({"pull", name});
    INFO(pulled.err);
    CHECK(pulled.exit_code == 0);
}

TEST_CASE("a TLS registry is verified with the CA in certs.d", "[registry][auth]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    SettingsFile settings;
    RegistryServer reg({.tls = true});
    reg.install_ca(settings.certs_d());
    AuthKiln kiln;
    std::string name = reg.host() + "/app:tls";
    build_small_image(kiln, name);
    auto pushed = kiln({"push", name});
    INFO(pushed.out << pushed.err);
    CHECK(pushed.exit_code == 0);

    // A CA that did not sign the server's certificate: refused, no fallback to plain HTTP.
    auto bad_ca = settings.certs_d() + "/" + reg.host() + "/ca.crt";
    TempDir scratch("/tmp", "kiln-it-otherca-");
    auto made = run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                             "/CN=not-the-ca", "-keyout", scratch.path() + "/k", "-out", bad_ca});
    REQUIRE(made.exit_code == 0);
    auto refused = kiln({"push", name});
    CHECK(refused.exit_code == 1);
}
