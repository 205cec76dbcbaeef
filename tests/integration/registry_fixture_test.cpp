// Self-tests of the registry fixture (registry_fixture.hpp), with curl rather than kiln: if
// these fail, kiln's registry tests cannot be trusted either.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"

using namespace kiln::test;

namespace {

// `curl ARGS... URL`, printing only the HTTP status ("000" when no response came).
std::string http_status(const std::string& url, std::vector<std::string> args = {}) {
    std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    return run_command(argv).out;
}

}  // namespace

TEST_CASE("a plain registry answers /v2/ with 200 on a port of its own", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    CHECK(reg.registry_port() != 5000);
    CHECK(http_status(reg.url() + "/v2/") == "200");
}

TEST_CASE("two registries run side by side", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer origin, mirror;
    CHECK(origin.host() != mirror.host());
    CHECK(http_status(origin.url() + "/v2/") == "200");
    CHECK(http_status(mirror.url() + "/v2/") == "200");
}

TEST_CASE("a stopped registry leaves nothing listening", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    int port;
    {
        RegistryServer reg;
        port = reg.registry_port();
        REQUIRE(port_open(port));
    }
    CHECK_FALSE(port_open(port));
}

TEST_CASE("a TLS registry answers with the fixture's CA and refuses a client without it", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.tls = true});
    CHECK(reg.url().rfind("https://127.0.0.1:", 0) == 0);
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", reg.ca_cert()}) == "200");
    CHECK(http_status(reg.url() + "/v2/") == "000");  // the system CAs do not know it
    kiln::TempDir certs("/tmp", "kiln-fixture-certs-");
    std::string dir = reg.install_ca(certs.path());
    CHECK(dir == certs.path() + "/" + reg.host());
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", dir + "/ca.crt"}) == "200");
    // localhost is in the certificate too.
    CHECK(http_status("https://localhost:" + std::to_string(reg.registry_port()) + "/v2/",
                      {"--cacert", reg.ca_cert()}) == "200");
}

TEST_CASE("a client-certificate registry refuses a client without one", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.tls = true, .client_cert = true});
    kiln::TempDir certs("/tmp", "kiln-fixture-certs-");
    std::string dir = reg.install_ca(certs.path(), true);
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", dir + "/ca.crt"}) == "000");
    // curl reads "FILE:PASSWORD" from --cert: the ':' of HOST:PORT needs a backslash.
    std::string cert = dir + "/client.cert";
    cert.replace(cert.rfind(':'), 1, "\\:");
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", dir + "/ca.crt", "--cert", cert, "--key", dir + "/client.key"}) ==
          "200");
}

TEST_CASE("an htpasswd registry answers 401 without and 200 with credentials", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.htpasswd = {{"alice", "s3cret"}}});
    CHECK(http_status(reg.url() + "/v2/") == "401");
    CHECK(http_status(reg.url() + "/v2/", {"-u", "alice:wrong"}) == "401");
    CHECK(http_status(reg.url() + "/v2/", {"-u", "alice:s3cret"}) == "200");
}

namespace {

// The value of `key="..."` in a WWW-Authenticate header line.
std::string challenge_param(const std::string& headers, const std::string& key) {
    auto at = headers.find(key + "=\"");
    if (at == std::string::npos) return "";
    at += key.size() + 2;
    return headers.substr(at, headers.find('"', at) - at);
}

// The "token" member of a token server's JSON answer.
std::string token_of(const std::string& json) {
    auto at = json.find("\"token\": \"");
    if (at == std::string::npos) return "";
    at += 10;
    return json.substr(at, json.find('"', at) - at);
}

}  // namespace

TEST_CASE("token auth: a 401 challenge, a token from the realm, then 200 with Bearer", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.token_users = {{"alice", "pw-a"}}});
    const std::string tags = reg.url() + "/v2/alice/app/tags/list";
    auto challenge = run_command({"curl", "-s", "-D", "-", "-o", "/dev/null", "--max-time", "20", tags});
    INFO(challenge.out);
    REQUIRE(challenge.out.find(" 401") != std::string::npos);
    std::string realm = challenge_param(challenge.out, "realm");
    CHECK(realm == reg.token_realm());
    CHECK(challenge_param(challenge.out, "service") == RegistryServer::token_service);
    std::string scope = challenge_param(challenge.out, "scope");
    CHECK(scope == "repository:alice/app:pull");

    auto bad = run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-u",
                            "alice:nope", realm + "?service=kiln-test-registry&scope=" + scope});
    CHECK(bad.out == "401");
    auto answer = run_command({"curl", "-s", "--max-time", "20", "-u", "alice:pw-a",
                               realm + "?service=kiln-test-registry&scope=repository:alice/app:pull,push"});
    std::string token = token_of(answer.out);
    INFO(answer.out << reg.log());
    REQUIRE_FALSE(token.empty());
    CHECK(answer.out.find("\"expires_in\": 300") != std::string::npos);
    // Authorized: the repository does not exist yet, so NAME_UNKNOWN rather than 401.
    CHECK(http_status(tags, {"-H", "Authorization: Bearer " + token}) == "404");
    CHECK(http_status(tags, {"-H", "Authorization: Bearer x" + token}) == "401");
    CHECK(http_status(tags) == "401");

    // Anonymous may pull but not push; the log says who asked for what and what was granted.
    run_command({"curl", "-s", "-o", "/dev/null", "--max-time", "20",
                 realm + "?service=kiln-test-registry&scope=repository:alice/app:pull,push"});
    auto log = reg.token_log();
    REQUIRE(log.size() == 3);
    CHECK(log[0].status == 401);
    CHECK(log[1].account == "alice");
    CHECK(log[1].scopes == std::vector<std::string>{"repository:alice/app:pull,push"});
    CHECK(log[1].granted == std::vector<std::string>{"repository:alice/app:pull,push"});
    CHECK(log[2].account == "");
    CHECK(log[2].granted == std::vector<std::string>{"repository:alice/app:pull"});
}

TEST_CASE("the fault proxy injects a 503 with Retry-After, then passes requests through", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    CHECK(reg.host() != "127.0.0.1:" + std::to_string(reg.registry_port()));
    reg.proxy().fail(503, "^/v2/$", 1, "GET", "2");
    auto first = run_command({"curl", "-s", "-D", "-", "-o", "/dev/null", "--max-time", "20", reg.url() + "/v2/"});
    CHECK(first.out.find(" 503") != std::string::npos);
    CHECK(first.out.find("Retry-After: 2") != std::string::npos);
    CHECK(http_status(reg.url() + "/v2/", {"-H", "Range: bytes=0-"}) == "200");
    // The proxy logs a request once its response is sent, which curl may not wait for.
    REQUIRE(soon([&] { return reg.proxy().log().size() == 2; }));
    auto log = reg.proxy().log();
    CHECK(log[0].action == "fail");
    CHECK(log[0].status == 503);
    CHECK(log[1].action == "forward");
    CHECK(log[1].status == 200);
    CHECK(log[1].range == "bytes=0-");
    CHECK(log[1].auth_scheme == "");
    reg.proxy().clear_log();
    CHECK(reg.proxy().log().empty());
}

namespace {

const std::string blob_data = "kiln fixture blob\n";

std::string blob_digest() {
    return "sha256:" + kiln::test::trimmed(run_command({"sha256sum"}, blob_data).out).substr(0, 64);
}

// Starts an upload to REPO (POST); returns the URL to PUT blob_data to, digest included.
std::string start_upload(const std::string& url, const std::string& repo) {
    auto post = run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %header{location}", "--max-time",
                             "20", "-X", "POST", url + "/v2/" + repo + "/blobs/uploads/"});
    REQUIRE(post.out.rfind("202 ", 0) == 0);
    std::string location = post.out.substr(4);
    if (location.rfind("http", 0) != 0) location = url + location;
    return location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + blob_digest();
}

// `curl -X PUT` of blob_data to upload_url; returns the HTTP status.
std::string put_blob(const std::string& upload_url) {
    return run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-X", "PUT", "-H",
                        "Content-Type: application/octet-stream", "--data-binary", "@-", upload_url},
                       blob_data)
        .out;
}

// Uploads blob_data to REPO (POST for a session, then one PUT with the data); returns its
// digest.
std::string upload_blob(const std::string& url, const std::string& repo) {
    REQUIRE(put_blob(start_upload(url, repo)) == "201");
    return blob_digest();
}

}  // namespace

TEST_CASE("a killed and restarted registry keeps its port and its stored blobs", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    std::string digest = upload_blob(reg.url(), "keep/me");
    const std::string blob_url = reg.url() + "/v2/keep/me/blobs/" + digest;
    reg.kill();
    CHECK_FALSE(reg.running());
    CHECK(http_status(blob_url) == "000");
    reg.restart();
    CHECK(reg.running());
    CHECK(run_command({"curl", "-s", "--max-time", "20", blob_url}).out == blob_data);
}

TEST_CASE("the fault proxy corrupts a blob body, drops a response and logs it all", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    std::string digest = upload_blob(reg.url(), "lib/x");
    const std::string blob_url = reg.url() + "/v2/lib/x/blobs/" + digest;
    reg.proxy().corrupt();
    std::string bad = run_command({"curl", "-s", "--max-time", "20", blob_url}).out;
    CHECK(bad.size() == blob_data.size());
    CHECK(bad != blob_data);
    CHECK(run_command({"curl", "-s", "--max-time", "20", blob_url}).out == blob_data);

    reg.proxy().drop(FaultProxy::Direction::response, 5, "/blobs/sha256:");
    auto cut = run_command({"curl", "-s", "--max-time", "20", blob_url});
    CHECK(cut.exit_code != 0);  // curl: transfer closed with bytes remaining
    CHECK(cut.out == blob_data.substr(0, 5));

    auto log = reg.proxy().log();
    REQUIRE(log.size() == 5);
    CHECK(log[0].method == "POST");
    CHECK(log[0].status == 202);
    CHECK(log[1].method == "PUT");
    CHECK(log[1].query.find("digest=" + digest) != std::string::npos);
    CHECK(log[1].request_bytes == static_cast<long long>(blob_data.size()));
    CHECK(log[1].status == 201);
    CHECK(log[2].action == "corrupt");
    CHECK(log[3].action == "forward");
    CHECK(log[4].action == "drop-response");
    CHECK(log[4].response_bytes == 5);
}

TEST_CASE("the fault proxy works in front of a TLS registry", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.tls = true, .fault_proxy = true});
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", reg.ca_cert()}) == "200");
    reg.proxy().fail(429, "^/v2/$", 1, "", "1");
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", reg.ca_cert()}) == "429");
    CHECK(http_status(reg.url() + "/v2/", {"--cacert", reg.ca_cert()}) == "200");
}

TEST_CASE("push_test_image pushes with skopeo and returns the manifest digest", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    if (!kiln::path_exists("/usr/bin/skopeo")) {
        WARN("skipped: skopeo is not installed (scripts/setup installs it)");
        return;
    }
    auto manifest_digest = [](const std::string& url, std::vector<std::string> args) {
        std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-w", "%header{docker-content-digest}",
                                         "--max-time", "20", "-I", "-H",
                                         "Accept: application/vnd.oci.image.manifest.v1+json"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back(url);
        return run_command(argv).out;
    };
    SECTION("plain HTTP, OCI, and a second image that differs") {
        RegistryServer reg;
        std::string digest = push_test_image(reg, "lib/busybox:1");
        CHECK(digest.rfind("sha256:", 0) == 0);
        CHECK(manifest_digest(reg.url() + "/v2/lib/busybox/manifests/1", {}) == digest);
        CHECK(push_test_image(reg, "lib/busybox:1") == digest);  // deterministic
        CHECK(push_test_image(reg, "lib/busybox:2", {.marker = "two"}) != digest);
    }
    SECTION("token auth, as the user, into its own namespace") {
        RegistryServer reg({.token_users = {{"alice", "pw-a"}}});
        std::string digest = push_test_image(reg, "alice/app:v1", {.docker_format = true});
        CHECK(digest.rfind("sha256:", 0) == 0);
        bool pushed_with_a_token = false;
        for (const auto& t : reg.token_log())
            for (const auto& g : t.granted) pushed_with_a_token |= g.find("alice/app:") != std::string::npos &&
                                                                   g.find("push") != std::string::npos;
        CHECK(pushed_with_a_token);
        CHECK_THROWS(push_test_image(reg, "bob/app:v1"));  // alice may not push there
    }
    SECTION("token auth over TLS (an HTTPS realm), as an admin, anywhere") {
        RegistryServer reg({.tls = true, .token_users = {{"alice", "pw-a"}, {"root", "pw-r"}}, .token_admins = {"root"}});
        CHECK(reg.token_realm().rfind("https://127.0.0.1:", 0) == 0);
        CHECK(push_test_image(reg, "library/busybox:latest").rfind("sha256:", 0) == 0);
        CHECK(reg.token_log().back().account == "root");
    }
    SECTION("TLS with a client certificate, through the fault proxy") {
        RegistryServer reg({.tls = true, .client_cert = true, .fault_proxy = true});
        CHECK(http_status(reg.url() + "/v2/", {"--cacert", reg.ca_cert()}) == "000");  // the proxy wants one too
        std::string digest = push_test_image(reg, "x/y:z");
        bool blob_uploaded = false;
        for (const auto& r : reg.proxy().log()) blob_uploaded |= r.method == "PUT" && r.path.find("/blobs/uploads/") != std::string::npos;
        CHECK(blob_uploaded);
        CHECK(digest.rfind("sha256:", 0) == 0);
    }
}

TEST_CASE("the fault proxy slows a body without changing it and cuts an upload short", "[registry][fixture]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    std::string digest = upload_blob(reg.url(), "lib/s");
    reg.proxy().slow("/blobs/sha256:", 5, 4, 1);
    CHECK(run_command({"curl", "-s", "--max-time", "20", reg.url() + "/v2/lib/s/blobs/" + digest}).out == blob_data);

    reg.proxy().drop(FaultProxy::Direction::request, 3, "/blobs/uploads/.", 1, "PUT");
    CHECK(put_blob(start_upload(reg.url(), "lib/s")) == "000");
    auto log = reg.proxy().log();
    REQUIRE(log.size() == 5);
    CHECK(log[2].action == "slow");
    CHECK(log[2].response_bytes == static_cast<long long>(blob_data.size()));
    CHECK(log[4].action == "drop-request");
    CHECK(log[4].request_bytes == 3);
    CHECK(log[4].status == 0);
}
