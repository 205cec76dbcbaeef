// A registry that keeps failing one blob, with 5xx answers or with silence longer than the
// stall limit: kiln retries with growing pauses (seen in the fault proxy's log), then gives
// up with one line naming the registry and the blob, and nothing of the transfer is kept.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <regex>
#include <thread>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

// The requests of the log whose method is `method` and whose path or query names `needle`.
std::vector<ProxyRequest> requests_for(RegistryServer& reg, const std::string& method, const std::string& needle) {
    std::vector<ProxyRequest> out;
    for (const auto& r : reg.proxy().log())
        if (r.method == method && (r.path.find(needle) != std::string::npos || r.query.find(needle) != std::string::npos))
            out.push_back(r);
    return out;
}

// Several attempts, each after a pause, the pauses growing: a backoff, not a tight loop.
void check_backed_off(const std::vector<ProxyRequest>& attempts) {
    INFO("attempts seen: " << attempts.size());
    REQUIRE(attempts.size() >= 3);
    CHECK(attempts.size() <= 8);
    std::vector<double> gaps;
    for (std::size_t i = 1; i < attempts.size(); ++i) gaps.push_back(attempts[i].time - attempts[i - 1].time);
    for (double gap : gaps) {
        INFO("pause before a retry: " << gap << " s");
        CHECK(gap >= 0.15);
    }
    INFO("first pause " << gaps.front() << " s, last " << gaps.back() << " s");
    CHECK(gaps.back() > gaps.front());
}

// One line "kiln: registry HOST: … sha256:… …" naming the registry and the blob.
void check_one_line_error(const CommandResult& r, const std::string& host, const std::string& digest) {
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("kiln: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("registry " + host) != std::string::npos);
    CHECK(r.err.find(digest) != std::string::npos);
}

// An image skopeo pushed behind the fault proxy, and a store holding something else.
struct PullFixture {
    RegistryServer reg{{.fault_proxy = true}};
    PullKiln kiln;
    std::string name, layer;
    StoreSnapshot before;

    explicit PullFixture(const std::string& repo_tag) : name(reg.host() + "/" + repo_tag) {
        push_test_image(reg, repo_tag);
        const auto colon = repo_tag.rfind(':');
        const auto layers = layer_digests(reg, repo_tag.substr(0, colon), repo_tag.substr(colon + 1));
        REQUIRE(!layers.empty());
        layer = layers.back();
        REQUIRE(kiln({"import", busybox_tarball(), "localhost/base:1"}).exit_code == 0);
        before = snapshot(kiln);
    }
    // Nothing of the failed pull stays: no image, layer or blob, nothing staged.
    void check_store_unchanged() const {
        CHECK(snapshot(kiln) == before);
        CHECK(dir_entries(kiln.root.path() + "/tmp").empty());
    }
};

// How long the proxy keeps a hung request before it closes it: four times the stall limit.
constexpr int hang_ms = 4000;

// The proxy logs a request when it has ended: a hung one hang_ms after kiln gave up on it.
void wait_for_hung_requests() { std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms + 500)); }

// The blob digest a push error names ("blob sha256:…").
std::string named_blob(const std::string& err) {
    std::smatch m;
    REQUIRE(std::regex_search(err, m, std::regex("blob (sha256:[0-9a-f]{64})")));
    return m[1];
}

// The registry holds neither the image nor the blob a failed push named.
void check_nothing_pushed(const RegistryServer& reg, const std::string& repo, const std::string& blob) {
    CHECK(curl_status(reg, "HEAD", "/v2/" + repo + "/manifests/1") == 404);
    CHECK(curl_status(reg, "HEAD", "/v2/" + repo + "/blobs/" + blob) == 404);
}

}  // namespace

TEST_CASE("a blob answering 5xx every time: the pull backs off, then fails naming the registry and the blob",
          "[registry][faults]") {
    REQUIRE_REGISTRY();
    const int status = GENERATE(503, 500);
    PullFixture f("test/flaky:1");
    f.reg.proxy().fail(status, "/blobs/" + f.layer, -1, "GET");
    auto r = f.kiln({"pull", f.name});
    check_one_line_error(r, f.reg.host(), f.layer);
    check_backed_off(requests_for(f.reg, "GET", f.layer));
    f.check_store_unchanged();
}

TEST_CASE("a blob slower than the stall limit: the pull retries, then fails naming the registry and the blob",
          "[registry][faults]") {
    REQUIRE_REGISTRY();
    ScopedEnv stall("KILN_REGISTRY_STALL_SECONDS", "1");
    PullFixture f("test/slow:1");
    f.reg.proxy().hang("/blobs/" + f.layer, hang_ms, -1, "GET");
    auto r = f.kiln({"pull", f.name});
    wait_for_hung_requests();
    check_one_line_error(r, f.reg.host(), f.layer);
    CHECK(r.err.find("too slow") != std::string::npos);
    const auto attempts = requests_for(f.reg, "GET", f.layer);
    INFO("attempts seen: " << attempts.size());
    CHECK(attempts.size() >= 3);
    CHECK(attempts.size() <= 8);
    f.check_store_unchanged();

    // The same registry without the fault: the pull works, so the limit was what stopped it.
    f.reg.proxy().clear();
    CHECK(f.kiln({"pull", "-q", f.name}).exit_code == 0);
}

TEST_CASE("blob uploads answering 503 every time: the push backs off, then fails naming the registry and the blob",
          "[registry][faults]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    Kiln kiln;
    const std::string name = reg.host() + "/team/flaky:1";
    build_small_image(kiln, name);

    // Every upload's closing PUT (…/blobs/uploads/UUID?digest=…); the POSTs that open them pass.
    reg.proxy().fail(503, "/blobs/uploads/.", -1, "PUT");
    auto r = kiln({"push", name});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 1);
    const std::string blob = named_blob(r.err);
    check_one_line_error(r, reg.host(), blob);
    check_backed_off(requests_for(reg, "PUT", "digest=sha256%3A" + blob.substr(7)));
    check_nothing_pushed(reg, "team/flaky", blob);
}

TEST_CASE("a blob upload slower than the stall limit: the push retries, then fails naming the registry and the blob",
          "[registry][faults]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    ScopedEnv stall("KILN_REGISTRY_STALL_SECONDS", "1");
    RegistryServer reg({.fault_proxy = true});
    Kiln kiln;
    const std::string name = reg.host() + "/team/slow:1";
    build_small_image(kiln, name);

    // The upload's body is read, then no answer for 4 s (the registry never sees it).
    reg.proxy().hang("/blobs/uploads/.", hang_ms, -1, "PUT");
    auto r = kiln({"push", name});
    wait_for_hung_requests();
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 1);
    const std::string blob = named_blob(r.err);
    check_one_line_error(r, reg.host(), blob);
    CHECK(r.err.find("too slow") != std::string::npos);
    const auto attempts = requests_for(reg, "PUT", "digest=sha256%3A" + blob.substr(7));
    INFO("attempts seen: " << attempts.size());
    CHECK(attempts.size() >= 3);
    CHECK(attempts.size() <= 8);
    check_nothing_pushed(reg, "team/slow", blob);

    reg.proxy().clear();
    CHECK(kiln({"push", name}).exit_code == 0);
}
