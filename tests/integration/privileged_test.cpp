// docker run --privileged and RUN --security=insecure: the one way to drop the sandbox, and
// only on the user's word (the flag, or --allow security.insecure for a Dockerfile).
#include <catch2/catch.hpp>

#include <string>

#include "harness.hpp"
#include "util/fs.hpp"

using kiln::test::Kiln;

namespace {

// The status lines and mounts that show how confined the process that prints them is.
const std::string report =
    "grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status; grep -c ' /proc/sys ' /proc/mounts; "
    "grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1";

// What kiln itself holds: a privileged container gets all of it and no more.
std::string own_permitted() {
    std::string status = kiln::read_file("/proc/self/status");
    auto at = status.find("CapPrm:\t");
    return status.substr(at + 8, 16);
}

}  // namespace

TEST_CASE("run --privileged gives every capability, no seccomp, /sys rw and /proc unmasked", "[privileged]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string all = own_permitted();
    auto r = kiln({"run", "--rm", "--privileged", "localhost/busybox", "sh", "-c", report});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "CapEff:\t" + all + "\nCapBnd:\t" + all + "\nSeccomp:\t0\n0\nrw\n");

    // Without it: Docker's defaults, as every other test checks in detail.
    auto d = kiln({"run", "--rm", "localhost/busybox", "sh", "-c", report});
    CHECK(d.out == "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nSeccomp:\t2\n1\nro\n");
}

TEST_CASE("exec into a privileged container is privileged too, and into others is not", "[privileged]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "-d", "--name", "priv", "--privileged", "localhost/busybox", "sleep", "60"}).exit_code == 0);
    REQUIRE(kiln({"run", "-d", "--name", "plain", "localhost/busybox", "sleep", "60"}).exit_code == 0);
    auto p = kiln({"exec", "priv", "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status"});
    CHECK(p.out == "CapEff:\t" + own_permitted() + "\nSeccomp:\t0\n");
    auto n = kiln({"exec", "plain", "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status"});
    CHECK(n.out == "CapEff:\t00000000a80425fb\nSeccomp:\t2\n");
    CHECK(kiln({"rm", "-f", "priv", "plain"}).exit_code == 0);
}

TEST_CASE("RUN --security=insecure runs privileged once --allow security.insecure grants it", "[privileged]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir context("/tmp", "kiln-priv-ctx-");
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM localhost/busybox\nRUN --security=insecure grep -E '^(CapEff|Seccomp):' /proc/self/status\n"
                       "RUN grep -E '^(CapEff|Seccomp):' /proc/self/status\n");
    CHECK(kiln({"build", context.path()}).exit_code == 1);  // not granted
    auto r = kiln({"build", "--allow", "security.insecure", "-t", "localhost/insecure", context.path()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const std::string printed = kiln::test::build_step_output(r.out);
    CHECK(printed.find("CapEff:\t" + own_permitted() + "\nSeccomp:\t0\n") != std::string::npos);
    // The next step, and the image, are back under the sandbox.
    CHECK(printed.find("CapEff:\t00000000a80425fb\nSeccomp:\t2\n") != std::string::npos);
    auto history = kiln({"history", "--no-trunc", "--format", "{{.CreatedBy}}", "localhost/insecure"});
    // As BuildKit's, the history names the command and not the sandbox it ran outside of.
    CHECK(history.out.find("RUN /bin/sh -c grep -E '^(CapEff|Seccomp):' /proc/self/status # buildkit") != std::string::npos);
}
