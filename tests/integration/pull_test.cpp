// `kiln pull` and the automatic pulls of build and run, against real registries (the fixture's
// docker-registry, images pushed by skopeo, faults from the fixture's proxy).
#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"
#include "util/fs.hpp"

using namespace kiln::test;

namespace {

std::vector<ProxyRequest> blob_requests(RegistryServer& reg) {
    std::vector<ProxyRequest> out;
    for (const auto& r : reg.proxy().log())
        if (r.path.find("/blobs/") != std::string::npos) out.push_back(r);
    return out;
}

std::string host_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#else
    return "unknown";
#endif
}

}  // namespace

TEST_CASE("pull of an image skopeo pushed: docker's output, RepoDigests, and it runs", "[registry][pull]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    const std::string digest = push_test_image(reg, "test/busybox:1", {.marker = "pulled"});
    PullKiln kiln;
    const std::string name = reg.host() + "/test/busybox:1";

    auto r = kiln({"pull", name});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("1: Pulling from test/busybox\n") != std::string::npos);
    CHECK(r.out.find(": Pulling fs layer\n") != std::string::npos);
    CHECK(r.out.find(": Download complete\n") != std::string::npos);
    CHECK(r.out.find(": Pull complete\n") != std::string::npos);
    // Interop: kiln reports the digest skopeo pushed.
    CHECK(r.out.find("Digest: " + digest + "\n") != std::string::npos);
    CHECK(r.out.find("Status: Downloaded newer image for " + name + "\n") != std::string::npos);
    CHECK(r.out.ends_with(name + "\n"));

    auto inspect = kiln({"image", "inspect", "-f", "{{json .RepoDigests}}", name});
    CHECK(inspect.out == "[\"" + reg.host() + "/test/busybox@" + digest + "\"]\n");
    auto images = kiln({"images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}"});
    CHECK(images.out == reg.host() + "/test/busybox 1 " + digest + "\n");

    // -q: only the full name; a pull of what is there is up to date.
    auto again = kiln({"pull", name});
    CHECK(again.out.find("Status: Image is up to date for " + name) != std::string::npos);
    CHECK(kiln({"pull", "-q", name}).out == name + "\n");

    // By digest: no tag is made, the digest reference finds the image.
    auto by_digest = kiln({"pull", "-q", reg.host() + "/test/busybox@" + digest});
    CHECK(by_digest.exit_code == 0);

    SKIP_UNLESS_ROOT();
    auto run = kiln({"run", "--rm", name, "busybox", "cat", "/etc/kiln-test-marker"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out == "pulled\n");
    // rmi takes the repo digest with the last tag of its repository.
    auto rmi = kiln({"rmi", name});
    CHECK(rmi.out.find("Untagged: " + reg.host() + "/test/busybox@" + digest) != std::string::npos);
    CHECK(kiln({"images", "-q"}).out.empty());
}

TEST_CASE("a second pull of an unchanged image makes no blob request", "[registry][pull]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    push_test_image(reg, "test/same:1", {.docker_format = true});
    PullKiln kiln;
    const std::string name = reg.host() + "/test/same:1";
    REQUIRE(kiln({"pull", name}).exit_code == 0);
    CHECK(!blob_requests(reg).empty());
    reg.proxy().clear_log();
    auto r = kiln({"pull", name});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Image is up to date") != std::string::npos);
    CHECK(blob_requests(reg).empty());
    auto log = reg.proxy().log();
    CHECK(std::none_of(log.begin(), log.end(), [](const ProxyRequest& q) {
        return q.method == "GET" && q.path.find("/manifests/") != std::string::npos;
    }));
}

TEST_CASE("a pull through an index chooses this machine's platform, an absent one is a clear error",
          "[registry][pull]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    const std::string host_digest = push_test_image(reg, "test/multi:host", {.marker = "host"});
    const std::string other_digest = push_test_image(reg, "test/multi:other", {.marker = "other"});
    auto size_of = [&](const std::string& tag) {
        return curl(reg, "/v2/test/multi/manifests/" + tag, {"-H", "Accept: application/vnd.oci.image.manifest.v1+json"})
            .size();
    };
    const std::string other_arch = host_arch() == "arm64" ? "amd64" : "arm64";
    nlohmann::json index = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.index.v1+json"},
        {"manifests",
         {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
           {"digest", other_digest},
           {"size", size_of("other")},
           {"platform", {{"os", "linux"}, {"architecture", other_arch}}}},
          {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
           {"digest", host_digest},
           {"size", size_of("host")},
           {"platform", {{"os", "linux"}, {"architecture", host_arch()}}}}}}};
    kiln::TempDir tmp("/tmp", "kiln-it-index-");
    kiln::atomic_write(tmp.path() + "/index.json", index.dump());
    curl(reg, "/v2/test/multi/manifests/latest",
         {"-X", "PUT", "-H", "Content-Type: application/vnd.oci.image.index.v1+json", "--data-binary",
          "@" + tmp.path() + "/index.json"});

    PullKiln kiln;
    const std::string name = reg.host() + "/test/multi:latest";
    auto r = kiln({"pull", name});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto index_digest = kiln({"image", "inspect", "-f", "{{index .RepoDigests 0}}", name}).out;
    CHECK(index_digest.find("@sha256:") != std::string::npos);
    CHECK(index_digest.find(host_digest) == std::string::npos);  // the RepoDigest is the index's
    // The host's image is the one pulled: compare its config with the tag pushed for it.
    REQUIRE(kiln({"pull", "-q", reg.host() + "/test/multi:host"}).exit_code == 0);
    CHECK(kiln({"image", "inspect", "-f", "{{.Id}}", name}).out ==
          kiln({"image", "inspect", "-f", "{{.Id}}", reg.host() + "/test/multi:host"}).out);

    const auto before = snapshot(kiln);
    auto absent = kiln({"pull", "--platform", "linux/s390x", name});
    CHECK(absent.exit_code == 1);
    CHECK(absent.err.find("no matching manifest for linux/s390x") != std::string::npos);
    CHECK(absent.err.find(reg.host()) != std::string::npos);
    CHECK(std::count(absent.err.begin(), absent.err.end(), '\n') == 1);
    CHECK(snapshot(kiln) == before);
}

TEST_CASE("a corrupted blob fails the pull and leaves the store as it was", "[registry][pull]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    push_test_image(reg, "test/bad:1");
    PullKiln kiln;
    REQUIRE(kiln({"import", busybox_tarball(), "localhost/base:1"}).exit_code == 0);
    const auto before = snapshot(kiln);
    auto layers = layer_digests(reg, "test/bad", "1");
    REQUIRE(!layers.empty());
    reg.proxy().corrupt("/blobs/" + layers.back(), -1);
    auto r = kiln({"pull", reg.host() + "/test/bad:1"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("kiln: ", 0) == 0);
    CHECK(r.err.find(reg.host()) != std::string::npos);
    CHECK(snapshot(kiln) == before);
    CHECK(dir_entries(kiln.root.path() + "/tmp").empty());
    // Once the registry behaves, the same pull works.
    reg.proxy().clear();
    CHECK(kiln({"pull", "-q", reg.host() + "/test/bad:1"}).exit_code == 0);
}

TEST_CASE("an interrupted layer download resumes with Range", "[registry][pull]") {
    REQUIRE_REGISTRY();
    RegistryServer reg({.fault_proxy = true});
    push_test_image(reg, "test/resume:1");
    auto layers = layer_digests(reg, "test/resume", "1");
    REQUIRE(!layers.empty());
    reg.proxy().drop(FaultProxy::Direction::response, 100000, "/blobs/" + layers.back(), 1, "GET");
    PullKiln kiln;
    auto r = kiln({"pull", reg.host() + "/test/resume:1"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> ranges;
    for (const auto& q : blob_requests(reg))
        if (q.path.find(layers.back()) != std::string::npos && q.method == "GET") ranges.push_back(q.range);
    INFO("ranges seen: " << ranges.size());
    REQUIRE(ranges.size() >= 2);
    CHECK(ranges.front().empty());
    CHECK(ranges.back().rfind("bytes=", 0) == 0);
    CHECK(ranges.back() != "bytes=0-");
}

TEST_CASE("FROM a registry image pulls it, and --pull=never fails cleanly", "[registry][pull]") {
    REQUIRE_REGISTRY();
    SKIP_UNLESS_ROOT();
    RegistryServer reg;
    push_test_image(reg, "test/base:1", {.marker = "base"});
    PullKiln kiln;
    kiln::TempDir context("/tmp", "kiln-it-pull-build-");
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM " + reg.host() + "/test/base:1\nRUN cat /etc/kiln-test-marker > /copied\n");

    auto never = kiln({"build", "--pull=never", "-q", "-t", "built", context.path()});
    CHECK(never.exit_code == 1);
    CHECK(never.err.find("No such image") != std::string::npos);
    CHECK(kiln({"images", "-q"}).out.empty());

    auto built = kiln({"build", "-t", "built", context.path()});
    INFO(built.out << built.err);
    REQUIRE(built.exit_code == 0);
    CHECK(built.out.find("Pulling from test/base") != std::string::npos);
    auto run = kiln({"run", "--rm", "built", "busybox", "cat", "/copied"});
    CHECK(run.out == "base\n");
    // The second build finds the base in the store and hits the cache.
    auto again = kiln({"build", "-t", "built", context.path()});
    CHECK(again.out.find("Pulling from") == std::string::npos);
    CHECK(again.out.find("CACHED") != std::string::npos);
}

TEST_CASE("run pulls a missing image, and exits 125 when it cannot", "[registry][pull]") {
    REQUIRE_REGISTRY();
    SKIP_UNLESS_ROOT();
    RegistryServer reg;
    push_test_image(reg, "test/run:1", {.marker = "run"});
    PullKiln kiln;
    const std::string name = reg.host() + "/test/run:1";
    auto never = kiln({"run", "--rm", "--pull=never", name, "true"});
    CHECK(never.exit_code == 125);
    CHECK(never.err.find("No such image") != std::string::npos);
    auto r = kiln({"run", "--rm", name, "busybox", "cat", "/etc/kiln-test-marker"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "run\n");
    CHECK(r.err.find("Unable to find image '" + name + "' locally\n") == 0);
    CHECK(r.err.find("Status: Downloaded newer image for " + name) != std::string::npos);
    auto missing = kiln({"run", "--rm", reg.host() + "/test/nothing:1", "true"});
    CHECK(missing.exit_code == 125);
    CHECK(missing.err.find(reg.host()) != std::string::npos);
}

TEST_CASE("pull -a pulls every tag of a repository", "[registry][pull]") {
    REQUIRE_REGISTRY();
    RegistryServer reg;
    push_test_image(reg, "test/tags:a", {.marker = "a"});
    push_test_image(reg, "test/tags:b", {.marker = "b"});
    PullKiln kiln;
    auto r = kiln({"pull", "-a", reg.host() + "/test/tags"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto tags = kiln({"images", "--format", "{{.Tag}}"}).out;
    CHECK(tags.find("a\n") != std::string::npos);
    CHECK(tags.find("b\n") != std::string::npos);
    CHECK(kiln({"pull", "-a", reg.host() + "/test/tags:a"}).exit_code == 1);
}
