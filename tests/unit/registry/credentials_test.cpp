#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "registry/base64.hpp"
#include "registry/credentials.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln;
using namespace kiln::registry;
using nlohmann::json;

namespace {

json config_of(const TempDir& dir) { return json::parse(read_file(dir.path() + "/config.json")); }

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// A docker-credential-kilntest helper in a temp dir put first on PATH. It keeps one file per
// server and logs its argv and environment, so a test can see where secrets went.
class FakeHelper {
public:
    FakeHelper() : dir_("/tmp", "kiln-cred-helper-") {
        mkdir_p(dir_.path() + "/creds");
        std::string d = dir_.path();
        std::string script = "#!/bin/sh\n"
                             "echo \"$@\" >> " + d + "/argv.log\n"
                             "env >> " + d + "/env.log\n"
                             "key() { printf %s \"$1\" | md5sum | cut -c1-32; }\n"
                             "case \"$1\" in\n"
                             "get) read -r url || true; f=" + d + "/creds/$(key \"$url\");\n"
                             "  if [ -f \"$f\" ]; then cat \"$f\"; else echo 'credentials not found in native keychain'; exit 1; fi;;\n"
                             "store) cat > " + d + "/in.json;\n"
                             "  url=$(sed -n 's/.*\"ServerURL\":\"\\([^\"]*\\)\".*/\\1/p' " + d + "/in.json);\n"
                             "  cp " + d + "/in.json " + d + "/creds/$(key \"$url\");;\n"
                             "erase) read -r url || true; f=" + d + "/creds/$(key \"$url\");\n"
                             "  if [ -f \"$f\" ]; then rm \"$f\"; else echo 'credentials not found in native keychain'; exit 1; fi;;\n"
                             "*) echo unknown; exit 1;;\n"
                             "esac\n";
        atomic_write(d + "/docker-credential-kilntest", script, 0755);
        const char* path = std::getenv("PATH");
        old_path_ = path ? path : "";
        ::setenv("PATH", (d + ":" + old_path_).c_str(), 1);
    }
    ~FakeHelper() { ::setenv("PATH", old_path_.c_str(), 1); }
    std::string log(const std::string& name) const {
        return path_exists(dir_.path() + "/" + name) ? read_file(dir_.path() + "/" + name) : "";
    }

private:
    TempDir dir_;
    std::string old_path_;
};

}  // namespace

TEST_CASE("credentials are stored as docker's config.json auths, mode 0600, other keys kept", "[registry][credentials]") {
    TempDir dir("/tmp", "kiln-cred-test-");
    atomic_write(dir.path() + "/config.json",
                 R"({"psFormat": "table {{.ID}}", "auths": {"other.example": {"auth": "eDp5"}}})");
    CredentialStore store(dir.path());
    store.store("reg.example:5000", {"alice", "s3cret:with:colons"});
    json doc = config_of(dir);
    CHECK(doc["psFormat"] == "table {{.ID}}");
    CHECK(doc["auths"]["other.example"]["auth"] == "eDp5");
    CHECK(doc["auths"]["reg.example:5000"]["auth"] == base64_encode("alice:s3cret:with:colons"));
    CHECK(mode_of(dir.path() + "/config.json") == 0600);

    auto got = store.get("reg.example:5000");
    REQUIRE(got);
    CHECK(got->username == "alice");
    CHECK(got->secret == "s3cret:with:colons");
    CHECK_FALSE(got->identity_token);
    CHECK_FALSE(store.get("reg.example:5001"));

    CHECK(store.erase("reg.example:5000"));
    CHECK_FALSE(store.erase("reg.example:5000"));
    CHECK_FALSE(config_of(dir)["auths"].contains("reg.example:5000"));
    CHECK(config_of(dir)["auths"].contains("other.example"));
}

TEST_CASE("docker.io is keyed as the docker CLI keys it", "[registry][credentials]") {
    TempDir dir("/tmp", "kiln-cred-test-");
    CredentialStore store(dir.path());
    store.store("docker.io", {"bob", "pw"});
    CHECK(config_of(dir)["auths"].contains("https://index.docker.io/v1/"));
    CHECK(credential_key("docker.io") == "https://index.docker.io/v1/");
    CHECK(credential_key("localhost:5000") == "localhost:5000");
    REQUIRE(store.get("docker.io"));
    CHECK(store.get("docker.io")->username == "bob");
}

TEST_CASE("older auths keys with a scheme and path still match", "[registry][credentials]") {
    TempDir dir("/tmp", "kiln-cred-test-");
    atomic_write(dir.path() + "/config.json",
                 R"({"auths": {"https://reg.example:5000/v1/": {"auth": ")" + base64_encode("u:p") +
                     R"("}, "id.example": {"auth": ")" + base64_encode("u:") + R"(", "identitytoken": "refresh-me"}}})");
    CredentialStore store(dir.path());
    auto got = store.get("reg.example:5000");
    REQUIRE(got);
    CHECK(got->secret == "p");
    auto id = store.get("id.example");
    REQUIRE(id);
    CHECK(id->identity_token);
    CHECK(id->secret == "refresh-me");
    // Logging in again replaces the old-style key instead of adding a second entry.
    store.store("reg.example:5000", {"u", "new"});
    CHECK_FALSE(config_of(dir)["auths"].contains("https://reg.example:5000/v1/"));
    CHECK(store.get("reg.example:5000")->secret == "new");
}

TEST_CASE("a broken config.json is an error naming the file", "[registry][credentials]") {
    TempDir dir("/tmp", "kiln-cred-test-");
    atomic_write(dir.path() + "/config.json", R"({"auths": {"r": {"auth": "!!!"}}})");
    CredentialStore store(dir.path());
    CHECK_THROWS_WITH(store.get("r"), Catch::Contains(dir.path() + "/config.json"));
    atomic_write(dir.path() + "/config.json", "{");
    CHECK_THROWS_WITH(store.get("r"), Catch::Contains("not valid JSON"));
}

TEST_CASE("credsStore runs the helper with secrets on stdin only", "[registry][credentials]") {
    FakeHelper helper;
    TempDir dir("/tmp", "kiln-cred-test-");
    atomic_write(dir.path() + "/config.json", R"({"credsStore": "kilntest"})");
    CredentialStore store(dir.path());
    CHECK_FALSE(store.get("reg.example"));
    store.store("reg.example", {"carol", "helper-secret-42"});
    // The file says only that the registry has credentials elsewhere.
    CHECK(config_of(dir)["auths"]["reg.example"] == json::object());
    CHECK(read_file(dir.path() + "/config.json").find("helper-secret-42") == std::string::npos);
    auto got = store.get("reg.example");
    REQUIRE(got);
    CHECK(got->username == "carol");
    CHECK(got->secret == "helper-secret-42");
    CHECK(helper.log("argv.log").find("helper-secret-42") == std::string::npos);
    CHECK(helper.log("env.log").find("helper-secret-42") == std::string::npos);
    CHECK(helper.log("argv.log").find("store") != std::string::npos);
    CHECK(store.erase("reg.example"));
    CHECK_FALSE(store.get("reg.example"));
}

TEST_CASE("credHelpers choose a helper per registry", "[registry][credentials]") {
    FakeHelper helper;
    TempDir dir("/tmp", "kiln-cred-test-");
    atomic_write(dir.path() + "/config.json", R"({"credHelpers": {"helped.example": "kilntest"}})");
    CredentialStore store(dir.path());
    store.store("helped.example", {"d", "via-helper"});
    store.store("plain.example", {"e", "in-file"});
    json doc = config_of(dir);
    CHECK(doc["auths"]["helped.example"] == json::object());
    CHECK(doc["auths"]["plain.example"]["auth"] == base64_encode("e:in-file"));
    CHECK(store.get("helped.example")->secret == "via-helper");
    CHECK(helper.log("argv.log").find("plain.example") == std::string::npos);
}

TEST_CASE("a helper that is not installed is a clear error", "[registry][credentials]") {
    TempDir dir("/tmp", "kiln-cred-test-");
    atomic_write(dir.path() + "/config.json", R"({"credsStore": "kiln-no-such-helper"})");
    CredentialStore store(dir.path());
    CHECK_THROWS_WITH(store.get("r.example"), Catch::Contains("docker-credential-kiln-no-such-helper not found"));
}

TEST_CASE("login SERVER names are read as the docker CLI reads them", "[registry][credentials]") {
    CHECK(login_domain("") == "docker.io");
    CHECK(login_domain("https://index.docker.io/v1/") == "docker.io");
    CHECK(login_domain("index.docker.io") == "docker.io");
    CHECK(login_domain("https://Reg.Example:5000/v1/") == "reg.example:5000");
    CHECK(login_domain("localhost:5000") == "localhost:5000");
}
