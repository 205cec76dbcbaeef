// A registry that crashes in the middle of a large push and comes back on the same port: the
// push must finish on kiln's own retries, and what the registry then holds must be the image.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"
#include "registry_fixture.hpp"
#include "registry_helpers.hpp"

using namespace kiln;
using namespace kiln::test;

namespace {

// The largest upload the registry is receiving right now (bytes in _uploads/*/data).
std::uintmax_t largest_upload(const RegistryServer& reg, const std::string& repo) {
    std::uintmax_t largest = 0;
    std::error_code ec;
    std::filesystem::path uploads = reg.storage_dir() + "/docker/registry/v2/repositories/" + repo + "/_uploads";
    for (auto it = std::filesystem::directory_iterator(uploads, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        auto size = std::filesystem::file_size(it->path() / "data", ec);
        if (!ec) largest = std::max(largest, size);
        ec.clear();
    }
    return largest;
}

}  // namespace

TEST_CASE("a registry killed and restarted in the middle of a large push: the push completes on retry",
          "[registry][restart]") {
    SKIP_UNLESS_ROOT();
    REQUIRE_REGISTRY();
    // No proxy: kiln's own connection dies with the registry, as it would in production.
    RegistryServer reg;
    Kiln kiln;
    import_base(kiln);
    // 144 MiB of random bytes: incompressible, more than two PATCH chunks.
    TempDir ctx("/tmp", "kiln-it-restart-");
    atomic_write(ctx.path() + "/Dockerfile", "FROM localhost/busybox\nRUN head -c 150994944 /dev/urandom > /big\n");
    const std::string name = reg.host() + "/crash/big:1";
    REQUIRE(kiln({"build", "-q", "-t", name, ctx.path()}).exit_code == 0);
    auto local_sum = kiln({"run", "--rm", name, "sha256sum", "/big"});
    REQUIRE(local_sum.exit_code == 0);

    auto push = std::async(std::launch::async, [&] { return kiln({"push", name}); });
    auto pushing = [&] { return push.wait_for(std::chrono::seconds(0)) != std::future_status::ready; };
    // Killed once the big layer is well under way (16 MiB received), while kiln still pushes.
    bool under_way = soon([&] { return largest_upload(reg, "crash/big") >= (16u << 20) || !pushing(); }, 120000);
    REQUIRE(under_way);
    REQUIRE(pushing());
    reg.kill();
    // Down for longer than one quick retry: a real restart takes seconds.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const std::size_t log_before_restart = reg.log().size();
    reg.restart();

    CommandResult pushed = push.get();
    INFO(pushed.out << pushed.err);
    REQUIRE(pushed.exit_code == 0);
    // The upload went on against the restarted registry (its own access log says so).
    const std::string after_restart = reg.log().substr(log_before_restart);
    INFO(after_restart.substr(0, 4000));
    CHECK(after_restart.find("http.request.method=PATCH") != std::string::npos);
    const std::string digest = pushed_digest(pushed.out);

    check_skopeo_digest(name, digest);

    // A second, empty store pulls the same manifest and the same bytes.
    PullKiln other;
    auto pulled = other({"pull", name});
    INFO(pulled.out << pulled.err);
    REQUIRE(pulled.exit_code == 0);
    CHECK(pulled.out.find("Digest: " + digest) != std::string::npos);
    auto remote_sum = other({"run", "--rm", name, "sha256sum", "/big"});
    REQUIRE(remote_sum.exit_code == 0);
    CHECK(remote_sum.out == local_sum.out);
}
