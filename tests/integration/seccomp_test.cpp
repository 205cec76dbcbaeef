// The seccomp profile from inside real containers: the static probe makes the raw syscalls
// an attacker would make and prints what the kernel answered ("ok RET" or "errno N").
#include <catch2/catch.hpp>

#include <linux/filter.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Sandbox;

struct Probe {
    const char* what;
    std::string args;      // kiln-probe syscall NR [ARG...]
    std::string expected;  // "errno N", or "ok" for any success
};

// Runs every probe in one container; one output line each.
std::vector<std::string> run_probes(Sandbox& box, const std::vector<Probe>& probes) {
    std::string script;
    for (const auto& p : probes) script += "kiln-probe syscall " + p.args + "; ";
    box.spec.args = {"sh", "-c", script};
    auto r = kiln::test::run(box.spec);
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::vector<std::string> lines;
    for (std::size_t start = 0, end; (end = r.out.find('\n', start)) != std::string::npos; start = end + 1)
        lines.push_back(r.out.substr(start, end - start));
    REQUIRE(lines.size() == probes.size());
    return lines;
}

void check_probes(Sandbox& box, const std::vector<Probe>& probes) {
    auto lines = run_probes(box, probes);
    for (std::size_t i = 0; i < probes.size(); ++i) {
        INFO(probes[i].what << ": kiln-probe syscall " << probes[i].args << " → " << lines[i]);
        if (probes[i].expected == "ok")
            CHECK(lines[i].starts_with("ok "));
        else
            CHECK(lines[i] == probes[i].expected);
    }
}

constexpr const char* clone_newuser = "0x10000000";

}  // namespace

#if defined(__x86_64__)
TEST_CASE("the default profile refuses what Docker's refuses, from inside a container", "[runtime][seccomp]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"true"});
    check_probes(box, {
        {"personality(ADDR_NO_RANDOMIZE)", "135 0x0040000", "errno 1"},
        {"personality(PER_LINUX)", "135 0", "ok"},
        {"personality query", "135 0xffffffff", "ok"},
        {"socket(AF_VSOCK)", "41 40 1 0", "errno 1"},
        {"socket(AF_INET)", "41 2 1 0", "ok"},
        {"pidfd_getfd", "438 0 0 0", "errno 1"},
        {"process_madvise", "440 0 0 0 0 0", "errno 1"},
        {"set_mempolicy", "238 0 0 0", "errno 1"},
        {"unshare(CLONE_NEWUSER)", std::string("272 ") + clone_newuser, "errno 1"},
        {"clone(CLONE_NEWUSER)", std::string("56 ") + clone_newuser + " 0 0 0 0", "errno 1"},
        {"clone3", "435 0 0", "errno 38"},
        {"listmount: newer than the profile's libseccomp", "458 0 0 0 0", "errno 38"},
        {"a number above every known syscall", "460", "errno 38"},
        {"getpid", "39", "ok"},
    });
}
#endif

TEST_CASE("ordinary programs work under the default profile", "[runtime][seccomp]") {
    SKIP_UNLESS_ROOT();
    auto r = kiln::test::run(
        Sandbox({"sh", "-c",
                 "ls / > /dev/null && head -1 /etc/passwd && (exit 3); echo sub=$?; sleep 0 & wait; "
                 "mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f && grep Seccomp: /proc/self/status"})
            .spec);
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.out == "root:x:0:0:root:/root:/bin/sh\nsub=3\nhi\nSeccomp:\t2\n");
}

#if defined(__x86_64__)
TEST_CASE("an empty seccomp program runs the container unconfined", "[runtime][seccomp]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"true"});
    box.spec.seccomp = std::make_shared<const std::vector<sock_filter>>();
    check_probes(box, {{"personality(ADDR_NO_RANDOMIZE)", "135 0x0040000", "ok"}});
    box.spec.args = {"grep", "Seccomp:", "/proc/self/status"};
    CHECK(kiln::test::run(box.spec).out == "Seccomp:\t0\n");
}
#endif

TEST_CASE("kiln run --security-opt seccomp=PROFILE.json applies a custom profile", "[runtime][seccomp][cli]") {
    SKIP_UNLESS_ROOT();
    kiln::test::Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir dir("/tmp", "kiln-seccomp-it-");
    std::string profile = dir.path() + "/no-mkdir.json";
    kiln::atomic_write(profile, R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]})");

    auto denied = kiln({"run", "--rm", "--security-opt", "seccomp=" + profile, "localhost/busybox", "sh", "-c",
                        "mkdir /tmp/x; echo $?; ls / > /dev/null && echo listed"});
    INFO(denied.err);
    CHECK(denied.exit_code == 0);
    CHECK(denied.out == "1\nlisted\n");  // mkdir refused with EACCES; the rest allowed
    CHECK_THAT(denied.err, Catch::Contains("Permission denied"));

    auto unconfined = kiln({"run", "--rm", "--security-opt", "seccomp=unconfined", "--security-opt",
                            "no-new-privileges", "localhost/busybox", "grep", "Seccomp:", "/proc/self/status"});
    CHECK(unconfined.exit_code == 0);
    CHECK(unconfined.out == "Seccomp:\t0\n");

    std::string bad = dir.path() + "/bad.json";
    kiln::atomic_write(bad, R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOPE"}]})");
    const std::pair<std::string, std::string> refused[] = {
        {"seccomp=" + bad, bad + ": syscalls[0].action: unknown action \"SCMP_ACT_NOPE\""},
        {"seccomp=" + dir.path() + "/absent.json", "absent.json"},
        {"seccomp:unconfined", "write seccomp=unconfined"},
        {"apparmor=unconfined", "kiln supports only"},
        {"no-new-privileges=false", "always runs containers with no-new-privileges"},
    };
    for (const auto& [opt, message] : refused) {
        INFO(opt);
        auto r = kiln({"run", "--rm", "--security-opt", opt, "localhost/busybox", "true"});
        CHECK(r.exit_code == 125);
        CHECK_THAT(r.err, Catch::Contains(message));
        CHECK(r.err.find('\n') == r.err.size() - 1);  // one line
    }
    // No container layer is left behind.
    auto leftovers = kiln::test::run_command({"sh", "-c", "ls " + kiln.root.path() + "/snapshots | wc -l"});
    CHECK(leftovers.out == "0\n");
}
