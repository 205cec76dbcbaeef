// kiln and the containers tools meeting at a registry: an image kiln pushes is copied by skopeo
// and run by podman under the digest kiln printed, and an image another client pushed keeps its
// manifest digest when kiln pulls it and pushes it elsewhere (the manifest bytes it came with).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <regex>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

struct PushedManifest {
    std::string digest;
    std::uint64_t size = 0;
};

// docker push's last line: "TAG: digest: sha256:… size: N".
PushedManifest pushed_manifest(const std::string& out) {
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex(": digest: (sha256:[0-9a-f]{64}) size: ([0-9]+)\n")));
    return PushedManifest{m[1], std::stoull(m[2])};
}

// skopeo with configs of its own (no policy, registries or credentials of the machine).
struct Skopeo {
    TempDir dir{"/tmp", "kiln-it-skopeo-"};
    Skopeo() {
        mkdir_p(dir.path() + "/tmp");
        atomic_write(dir.path() + "/policy.json", R"({"default": [{"type": "insecureAcceptAnything"}]})");
        atomic_write(dir.path() + "/registries.conf", "unqualified-search-registries = []\n");
    }
    CommandResult operator()(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {"env", "CONTAINERS_REGISTRIES_CONF=" + dir.path() + "/registries.conf",
                                         "REGISTRY_AUTH_FILE=" + dir.path() + "/auth.json",
                                         "TMPDIR=" + dir.path() + "/tmp", "HOME=" + dir.path(),
                                         "timeout", "120", "skopeo", "--policy", dir.path() + "/policy.json"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv);
    }
    // The manifest bytes the registry serves for ref ("HOST/REPO:TAG").
    std::string raw_manifest(const std::string& ref) const {
        auto r = (*this)({"inspect", "--raw", "--tls-verify=false", "docker://" + ref});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        return r.out;
    }
};

// `kiln --config DIR …`: no credentials of the machine's user are read.
struct RegistryKiln : Kiln {
    TempDir config{"/tmp", "kiln-it-interop-config-"};
    CommandResult operator()(std::vector<std::string> args) const {
        args.insert(args.begin(), {"--config", config.path()});
        return Kiln::operator()(std::move(args));
    }
};

}  // namespace

TEST_CASE("an image kiln pushes is copied by skopeo and runs under podman, all under kiln's digest",
          "[registry][interop]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    SKIP_UNLESS_TOOL("skopeo");
    SKIP_UNLESS_TOOL("podman");
    SKIP_UNLESS_TOOL("runc");
    RegistryServer reg;
    RegistryKiln kiln;
    const std::string name = reg.host() + "/interop/app:1";
    build_small_image(kiln, name);

    auto push = kiln({"push", name});
    INFO(push.out << push.err);
    REQUIRE(push.exit_code == 0);
    const PushedManifest pushed = pushed_manifest(push.out);

    Skopeo skopeo;
    auto inspected = skopeo({"inspect", "--tls-verify=false", "docker://" + name});
    INFO(inspected.err);
    REQUIRE(inspected.exit_code == 0);
    CHECK(nlohmann::json::parse(inspected.out)["Digest"] == pushed.digest);
    const std::string raw = skopeo.raw_manifest(name);
    CHECK(raw.size() == pushed.size);
    CHECK(sha256_of(raw).str() == pushed.digest);

    // Into the private podman's own store, then run there.
    TempDir work("/tmp", "kiln-it-interop-");
    const std::string podman_dir = work.path() + "/podman";
    auto podman = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {KILN_SOURCE_DIR "/tests/integration/tools/podman-private", podman_dir});
        return run_command(args);
    };
    REQUIRE(podman({"images", "-q"}).exit_code == 0);  // writes its configs and makes its store
    const std::string storage = "containers-storage:[vfs@" + podman_dir + "/storage+" + podman_dir + "/run]";
    auto copy = skopeo({"copy", "-q", "--src-tls-verify=false", "docker://" + name, storage + "localhost/interop/app:1"});
    INFO(copy.out << copy.err);
    REQUIRE(copy.exit_code == 0);
    auto digest = podman({"image", "inspect", "--format", "{{.Digest}}", "localhost/interop/app:1"});
    INFO(digest.err);
    CHECK(digest.out == pushed.digest + "\n");
    auto run = podman({"run", "--rm", "localhost/interop/app:1"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out == "small\n");
}

TEST_CASE("a pulled image pushed to another repository and registry keeps the manifest digest it came with",
          "[registry][interop]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    SKIP_UNLESS_TOOL("skopeo");
    const bool docker_format = GENERATE(true, false);
    INFO((docker_format ? "Docker schema 2" : "OCI"));
    RegistryServer origin, other;
    const std::string digest = push_test_image(origin, "src/busybox:1", {.marker = "kept", .docker_format = docker_format});
    Skopeo skopeo;
    const std::string original = skopeo.raw_manifest(origin.host() + "/src/busybox:1");
    REQUIRE(sha256_of(original).str() == digest);
    const std::string want_type = docker_format ? "application/vnd.docker.distribution.manifest.v2+json"
                                                : "application/vnd.oci.image.manifest.v1+json";
    REQUIRE(nlohmann::json::parse(original)["mediaType"] == want_type);

    RegistryKiln kiln;
    auto pull = kiln({"pull", "-q", origin.host() + "/src/busybox:1"});
    INFO(pull.out << pull.err);
    REQUIRE(pull.exit_code == 0);

    for (const std::string& target : {origin.host() + "/dst/busybox:2", other.host() + "/copy/busybox:3"}) {
        INFO(target);
        REQUIRE(kiln({"tag", origin.host() + "/src/busybox:1", target}).exit_code == 0);
        auto push = kiln({"push", target});
        INFO(push.out << push.err);
        REQUIRE(push.exit_code == 0);
        CHECK(pushed_manifest(push.out).digest == digest);
        CHECK(skopeo.raw_manifest(target) == original);
    }

    // Asking for a compression is asking for kiln's own manifest: a new digest.
    const std::string recompressed = other.host() + "/zstd/busybox:1";
    REQUIRE(kiln({"tag", origin.host() + "/src/busybox:1", recompressed}).exit_code == 0);
    auto zstd = kiln({"push", "--compression", "zstd", recompressed});
    INFO(zstd.out << zstd.err);
    REQUIRE(zstd.exit_code == 0);
    CHECK(pushed_manifest(zstd.out).digest != digest);

    // An image built on it is another image, with kiln's manifest; the pulled one keeps its own
    // after the pulled blobs went out again.
    TempDir context("/tmp", "kiln-it-interop-ctx-");
    atomic_write(context.path() + "/Dockerfile", "FROM " + origin.host() + "/src/busybox:1\nRUN echo x > /x\n");
    const std::string derived = other.host() + "/derived/busybox:1";
    REQUIRE(kiln({"build", "-q", "--pull=never", "-t", derived, context.path()}).exit_code == 0);
    auto derived_push = kiln({"push", derived});
    INFO(derived_push.out << derived_push.err);
    REQUIRE(derived_push.exit_code == 0);
    const std::string derived_raw = skopeo.raw_manifest(derived);
    CHECK(nlohmann::json::parse(derived_raw)["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
    CHECK(nlohmann::json::parse(derived_raw)["layers"][0]["digest"] ==
          nlohmann::json::parse(original)["layers"][0]["digest"]);

    // rmi takes the kept manifest with the image.
    REQUIRE(kiln({"rmi", "-f", origin.host() + "/src/busybox:1", origin.host() + "/dst/busybox:2",
                  other.host() + "/copy/busybox:3", recompressed}).exit_code == 0);
    CHECK_FALSE(path_exists(kiln.root.path() + "/blobs/sha256/" + digest.substr(7)));
}
