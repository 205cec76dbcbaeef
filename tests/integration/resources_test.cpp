// Resource limits from the command line to the container's cgroups, and proof that each
// bites: --memory-swap, --memory-reservation, --cpu-shares and --cpuset-cpus read back
// from the cgroup files (v1, cgroup2 or both on a hybrid host), the OOM killer reported
// as Docker's State.OOMKilled, a fork bomb held by --pids-limit and still stoppable.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::inspect_value;
using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

// The container's group in one hierarchy: v1 "memory", "cpu", "cpuset", "pids", or "" for
// cgroup2 (at /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one).
std::string cgroup_dir(const std::string& hierarchy, const std::string& id) {
    if (!hierarchy.empty()) return "/sys/fs/cgroup/" + hierarchy + "/kiln/" + id;
    if (kiln::path_exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup/kiln/" + id;
    return "/sys/fs/cgroup/unified/kiln/" + id;
}

// The value of one limit: the v1 file where the host has it, else the cgroup2 one.
// Empty when neither exists (the test then fails on the comparison).
std::string limit(const std::string& id, const std::string& v1_hierarchy, const std::string& v1_file,
                  const std::string& v2_file) {
    for (const auto& path : {cgroup_dir(v1_hierarchy, id) + "/" + v1_file, cgroup_dir("", id) + "/" + v2_file})
        if (kiln::path_exists(path)) return trimmed(kiln::read_file(path));
    return "";
}

bool v1_memory(const std::string& id) { return kiln::path_exists(cgroup_dir("memory", id)); }

// The pids in the container's pids group (v1 pids, else cgroup2).
long pids_current(const std::string& id) {
    auto text = limit(id, "pids", "pids.current", "pids.current");
    return text.empty() ? -1 : std::stol(text);
}

}  // namespace

TEST_CASE("run --memory-swap --memory-reservation --cpu-shares --cpuset-cpus reach the cgroups and inspect",
          "[resources]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "-m", "32m", "--memory-swap", "64m", "--memory-reservation", "16m", "--cpu-shares",
                     "512", "--cpuset-cpus", "0", "localhost/busybox", "sleep", "100"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    CHECK(limit(id, "memory", "memory.limit_in_bytes", "memory.max") == std::to_string(32 << 20));
    // v1 counts memory+swap; cgroup2 swap alone.
    if (v1_memory(id)) {
        if (kiln::path_exists(cgroup_dir("memory", id) + "/memory.memsw.limit_in_bytes"))
            CHECK(limit(id, "memory", "memory.memsw.limit_in_bytes", "") == std::to_string(64 << 20));
    } else if (kiln::path_exists(cgroup_dir("", id) + "/memory.swap.max")) {
        CHECK(limit(id, "", "", "memory.swap.max") == std::to_string(32 << 20));
    }
    CHECK(limit(id, "memory", "memory.soft_limit_in_bytes", "memory.low") == std::to_string(16 << 20));
    // cgroup2's weight through the OCI conversion: 1 + (512 - 2) * 9999 / 262142.
    CHECK(limit(id, "cpu", "cpu.shares", "cpu.weight") ==
          (kiln::path_exists(cgroup_dir("cpu", id)) ? "512" : "20"));
    CHECK(limit(id, "cpuset", "cpuset.cpus", "cpuset.cpus") == "0");
    // The scheduler holds the container to that CPU, for exec too.
    auto allowed = kiln({"exec", id, "sh", "-c", "grep Cpus_allowed_list /proc/self/status"});
    CHECK(trimmed(allowed.out) == "Cpus_allowed_list:\t0");
    CHECK(inspect_value(kiln, id,
                  "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} "
                  "{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}") ==
          std::to_string(32 << 20) + " " + std::to_string(64 << 20) + " " + std::to_string(16 << 20) + " 512 0");
    CHECK(kiln({"rm", "-f", id}).exit_code == 0);

    // Docker's defaults: --memory alone allows as much swap again; -1 is unlimited swap.
    auto plain = trimmed(kiln({"create", "-m", "32m", "localhost/busybox", "true"}).out);
    CHECK(inspect_value(kiln, plain, "{{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} [{{.HostConfig.CpusetCpus}}]") ==
          std::to_string(64 << 20) + " 0 []");
    auto unlimited = kiln({"run", "-d", "-m", "32m", "--memory-swap", "-1", "localhost/busybox", "sleep", "100"});
    REQUIRE(unlimited.exit_code == 0);
    const std::string unlimited_id = trimmed(unlimited.out);
    CHECK(inspect_value(kiln, unlimited_id, "{{.HostConfig.MemorySwap}}") == "-1");
    if (v1_memory(unlimited_id) && kiln::path_exists(cgroup_dir("memory", unlimited_id) + "/memory.memsw.limit_in_bytes"))
        CHECK(std::stoll(limit(unlimited_id, "memory", "memory.memsw.limit_in_bytes", "")) > (1LL << 60));
    else if (kiln::path_exists(cgroup_dir("", unlimited_id) + "/memory.swap.max"))
        CHECK(limit(unlimited_id, "", "", "memory.swap.max") == "max");
    CHECK(kiln({"rm", "-f", unlimited_id}).exit_code == 0);
    CHECK(kiln::test::host_traces_gone(unlimited_id));
}

TEST_CASE("bad resource flag values are one-line errors with exit 125 before anything is created", "[resources]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string online = trimmed(kiln::read_file("/sys/devices/system/cpu/online"));
    const std::string past_last = std::to_string(std::thread::hardware_concurrency() + 1);
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"-m", "32m", "--memory-swap", "16m"}, "Minimum memoryswap limit should be larger than memory limit"},
        {{"--memory-swap", "64m"}, "You should always set the Memory limit when using Memoryswap limit"},
        {{"-m", "32m", "--memory-swap", "-2"}, "invalid argument \"-2\" for \"--memory-swap\" flag"},
        {{"-m", "32m", "--memory-reservation", "64m"},
         "Minimum memory limit can not be less than memory reservation limit"},
        {{"--memory-reservation", "1m"}, "Minimum memory reservation allowed is 6MB"},
        {{"--memory-reservation", "0x10m"}, "invalid argument \"0x10m\" for \"--memory-reservation\" flag"},
        {{"--cpu-shares", "-5"}, "CPU shares must be a positive integer"},
        {{"-c", "0x10"}, "invalid argument \"0x10\" for \"-c, --cpu-shares\" flag"},
        {{"--cpu-shares", "1e3"}, "for \"-c, --cpu-shares\" flag"},
        {{"--cpuset-cpus", past_last},
         "Requested CPUs are not available - requested " + past_last + ", available: " + online},
        {{"--cpuset-cpus", "1-0"}, "Invalid value 1-0 for cpuset cpus"},
        {{"--cpuset-cpus", "0,"}, "Invalid value 0, for cpuset cpus"},
        {{"--cpuset-cpus", "zero"}, "Invalid value zero for cpuset cpus"},
    };
    for (const auto& [flags, message] : cases) {
        std::vector<std::string> args = {"run", "--rm"};
        args.insert(args.end(), flags.begin(), flags.end());
        args.insert(args.end(), {"localhost/busybox", "touch", "/started"});
        auto r = kiln(args);
        INFO(flags.back() << ": " << r.err);
        CHECK(r.exit_code == 125);
        CHECK(r.err.find(message) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    CHECK(kiln({"ps", "-aq"}).out.empty());
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/containers").empty());
}

TEST_CASE("64 MB allocated under --memory 32m ends with 137 and OOMKilled, in the foreground and detached",
          "[resources]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    auto fg = kiln({"run", "--name", "fg", "-m", "32m", "localhost/probe", "kiln-probe", "alloc", "64"});
    INFO(fg.out << fg.err);
    CHECK(fg.exit_code == 137);
    CHECK(inspect_value(kiln, "fg", "{{.State.ExitCode}} {{.State.OOMKilled}}") == "137 true");

    auto bg = kiln({"run", "-d", "--name", "bg", "-m", "32m", "localhost/probe", "kiln-probe", "alloc", "64"});
    REQUIRE(bg.exit_code == 0);
    CHECK(soon([&] { return inspect_value(kiln, "bg", "{{.State.Status}}") == "exited"; }));
    CHECK(inspect_value(kiln, "bg", "{{.State.ExitCode}} {{.State.OOMKilled}}") == "137 true");
    CHECK(trimmed(kiln({"ps", "-a", "--filter", "name=bg", "--format", "{{.Status}}"}).out).starts_with("Exited (137)"));

    // Within the limit the same program lives.
    auto small = kiln({"run", "--name", "small", "-m", "32m", "localhost/probe", "kiln-probe", "alloc", "8"});
    CHECK(small.exit_code == 0);
    CHECK(small.out == "ok 8\n");
    CHECK(inspect_value(kiln, "small", "{{.State.OOMKilled}}") == "false");

    // 137 from a plain SIGKILL is not an OOM kill: in the foreground (a child killed, its
    // status passed on) and detached (kiln kill).
    auto killed = kiln({"run", "--name", "killed", "-m", "32m", "localhost/busybox", "sh", "-c",
                        "sleep 100 & kill -9 $!; wait $!"});
    CHECK(killed.exit_code == 137);
    CHECK(inspect_value(kiln, "killed", "{{.State.ExitCode}} {{.State.OOMKilled}}") == "137 false");
    REQUIRE(kiln({"run", "-d", "--name", "sigkill", "-m", "32m", "localhost/busybox", "sleep", "100"}).exit_code == 0);
    CHECK(kiln({"kill", "sigkill"}).exit_code == 0);
    CHECK(soon([&] { return inspect_value(kiln, "sigkill", "{{.State.Status}}") == "exited"; }));
    CHECK(inspect_value(kiln, "sigkill", "{{.State.ExitCode}} {{.State.OOMKilled}}") == "137 false");

    CHECK(kiln({"rm", "fg", "bg", "small", "killed", "sigkill"}).exit_code == 0);
}

TEST_CASE("a fork bomb under --pids-limit 20 is contained and stop and rm -f end it with nothing left",
          "[resources]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    for (const char* ending : {"stop", "rm -f"}) {
        INFO(ending);
        // A shell exits at its first failed fork; a bomb goes on.
        auto run = kiln({"run", "-d", "--pids-limit", "20", "localhost/probe", "kiln-probe", "forkbomb"});
        REQUIRE(run.exit_code == 0);
        const std::string id = trimmed(run.out);
        // The bomb reaches the limit and stays there, forking as fast as it can.
        CHECK(soon([&] { return pids_current(id) == 20; }));
        for (int i = 0; i < 20; ++i) {
            CHECK(pids_current(id) <= 20);
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        CHECK(limit(id, "pids", "pids.max", "pids.max") == "20");
        // The host still forks.
        CHECK(kiln::test::run_command({"true"}).exit_code == 0);
        const auto start = std::chrono::steady_clock::now();
        if (std::string(ending) == "stop") {
            CHECK(kiln({"stop", "-t", "1", id}).exit_code == 0);
            CHECK(inspect_value(kiln, id, "{{.State.Status}}") == "exited");
            CHECK(kiln({"rm", id}).exit_code == 0);
        } else {
            CHECK(kiln({"rm", "-f", id}).exit_code == 0);
        }
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
        CHECK(soon([&] { return kiln::test::host_traces_gone(id); }));
    }
    CHECK(kiln({"ps", "-aq"}).out.empty());
}
