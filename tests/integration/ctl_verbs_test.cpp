// The container verbs around a running container: pause/unpause (the cgroup freezer), top,
// stats, rename, port and ps -s, each from its own kiln process with docker's output and
// exit codes.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "harness.hpp"
#include "runtime/freezer.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/human_units.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

std::string field(const Kiln& kiln, const std::string& name, const std::string& format) {
    return trimmed(kiln({"inspect", "-f", format, name}).out);
}

// The container's counter: the last number it logged.
long last_count(const Kiln& kiln, const std::string& name) {
    auto out = trimmed(kiln({"logs", name}).out);
    auto nl = out.rfind('\n');
    auto last = nl == std::string::npos ? out : out.substr(nl + 1);
    return last.empty() ? -1 : std::stol(last);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("pause freezes a container's counter, unpause resumes it, with docker's states and errors", "[ctl]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "--name", "counter", "localhost/busybox", "sh", "-c",
                     "trap 'exit 3' TERM; i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done"});
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    REQUIRE(soon([&] { return last_count(kiln, "counter") > 2; }));

    auto pause = kiln({"pause", "counter"});
    INFO(pause.err);
    REQUIRE(pause.exit_code == 0);
    CHECK(trimmed(pause.out) == "counter");
    CHECK(field(kiln, "counter", "{{.State.Status}} {{.State.Running}} {{.State.Paused}}") == "paused true true");
    auto status = trimmed(kiln({"ps", "--format", "{{.Status}}|{{.State}}"}).out);
    CHECK(status.starts_with("Up "));
    CHECK(status.ends_with(" (Paused)|paused"));
    CHECK(trimmed(kiln({"ps", "-q", "--no-trunc", "--filter", "status=paused"}).out) == id);
    // Frozen: the counter stands still (once the monitor has logged what was in flight).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const long frozen_at = last_count(kiln, "counter");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(last_count(kiln, "counter") == frozen_at);

    auto again = kiln({"pause", "counter"});
    CHECK(again.exit_code == 1);
    CHECK(contains(again.err, "Container " + id + " is already paused"));
    auto exec = kiln({"exec", "counter", "true"});
    CHECK(exec.exit_code == 1);
    CHECK(contains(exec.err, "is paused, unpause the container before exec"));
    // top reads ps, which needs nothing of the frozen processes.
    CHECK(contains(kiln({"top", "counter"}).out, "sleep 0.05"));

    auto unpause = kiln({"unpause", "counter"});
    REQUIRE(unpause.exit_code == 0);
    CHECK(trimmed(unpause.out) == "counter");
    CHECK(field(kiln, "counter", "{{.State.Status}} {{.State.Paused}}") == "running false");
    CHECK(soon([&] { return last_count(kiln, "counter") > frozen_at + 2; }));
    auto not_paused = kiln({"unpause", "counter"});
    CHECK(not_paused.exit_code == 1);
    CHECK(contains(not_paused.err, "Container " + id + " is not paused"));

    // stop of a paused container: the signal, then a thaw so that it can act on it.
    REQUIRE(kiln({"pause", "counter"}).exit_code == 0);
    const auto start = std::chrono::steady_clock::now();
    CHECK(kiln({"stop", "counter"}).exit_code == 0);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(field(kiln, "counter", "{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}") == "exited 3 false");
    auto stopped = kiln({"pause", "counter"});
    CHECK(stopped.exit_code == 1);
    CHECK(contains(stopped.err, "Container " + id + " is not running"));
    CHECK(kiln({"unpause", "counter"}).exit_code == 1);
    auto missing = kiln({"pause", "nosuch", "counter"});
    CHECK(missing.exit_code == 1);
    CHECK(contains(missing.err, "No such container: nosuch"));

    // kill and rm -f of paused containers work too.
    REQUIRE(kiln({"run", "-d", "--name", "sleeper", "localhost/busybox", "sleep", "1000"}).exit_code == 0);
    REQUIRE(kiln({"pause", "sleeper"}).exit_code == 0);
    CHECK(kiln({"kill", "sleeper"}).exit_code == 0);
    CHECK(soon([&] { return field(kiln, "sleeper", "{{.State.Status}}") == "exited"; }));
    CHECK(field(kiln, "sleeper", "{{.State.ExitCode}}") == "137");
    REQUIRE(kiln({"start", "sleeper"}).exit_code == 0);
    REQUIRE(kiln({"pause", "sleeper"}).exit_code == 0);
    CHECK(kiln({"rm", "-f", "sleeper", "counter"}).exit_code == 0);
    CHECK(kiln({"ps", "-aq"}).out.empty());
}

TEST_CASE("the v1 freezer freezes and thaws a group (hosts without cgroup2)", "[ctl]") {
    SKIP_UNLESS_ROOT();
    const std::string root = "/sys/fs/cgroup/freezer";
    if (!kiln::path_exists(root + "/freezer.state") && !kiln::path_exists(root + "/tasks")) {
        WARN("skipped: no cgroup v1 freezer hierarchy on this host");
        return;
    }
    const std::string dir = root + "/kiln-freezer-test-" + std::to_string(::getpid());
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        for (;;) ::pause();
    }
    // Killed, reaped and its group removed however the checks below end.
    struct Cleanup {
        pid_t child;
        std::string dir;
        ~Cleanup() {
            ::kill(child, SIGKILL);
            kiln::UniqueFd state(::open((dir + "/freezer.state").c_str(), O_WRONLY | O_CLOEXEC));
            if (state && ::write(state.get(), "THAWED", 6) != 6) WARN("could not thaw " << dir);
            ::waitpid(child, nullptr, 0);
            soon([&] { return ::rmdir(dir.c_str()) == 0; });
        }
    } cleanup{child, dir};
    {
        kiln::UniqueFd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
        const std::string pid = std::to_string(child);
        REQUIRE(procs);
        REQUIRE(::write(procs.get(), pid.data(), pid.size()) == static_cast<ssize_t>(pid.size()));
    }
    const kiln::runtime::FreezerGroup group{dir, false};
    CHECK_FALSE(kiln::runtime::freezer_frozen(group));
    kiln::runtime::freezer_set(group, true);
    CHECK(kiln::runtime::freezer_frozen(group));
    CHECK(trimmed(kiln::read_file(dir + "/freezer.state")) == "FROZEN");
    kiln::runtime::freezer_set(group, false);
    CHECK_FALSE(kiln::runtime::freezer_frozen(group));
    CHECK(trimmed(kiln::read_file(dir + "/freezer.state")) == "THAWED");
}

TEST_CASE("top lists the container's processes only, with ps options, and refuses a stopped container", "[ctl]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "--name", "tops", "localhost/busybox", "sh", "-c", "sleep 1001 & sleep 1002 & wait"});
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    REQUIRE(soon([&] { return contains(kiln({"top", "tops"}).out, "sleep 1002"); }));
    auto top = kiln({"top", "tops"});
    INFO(top.out << top.err);
    CHECK(top.exit_code == 0);
    const std::string header = top.out.substr(0, top.out.find('\n'));
    CHECK(kiln::test::trimmed(header).starts_with("UID"));
    for (const char* column : {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}) CHECK(contains(header, column));
    CHECK(contains(top.out, "sleep 1001"));
    CHECK(contains(top.out, "sleep 1002"));
    CHECK(contains(top.out, "sh -c sleep 1001 & sleep 1002 & wait"));
    // Only the container's: 3 processes under the header, none of the host's.
    CHECK(std::count(top.out.begin(), top.out.end(), '\n') == 4);
    CHECK_FALSE(contains(top.out, "kiln-monitor"));

    auto custom = kiln({"top", "tops", "-o", "pid,comm"});
    CHECK(custom.exit_code == 0);
    CHECK(trimmed(custom.out.substr(0, custom.out.find('\n'))) == "PID" + std::string(17, ' ') + "COMMAND");
    CHECK(contains(custom.out, "sleep"));
    auto renamed = kiln({"top", "tops", "-o", "user=PID"});
    CHECK(renamed.exit_code == 1);
    CHECK(contains(renamed.err, "specifying \"user=PID\" is not allowed"));
    auto no_pid = kiln({"top", "tops", "-o", "comm"});
    CHECK(no_pid.exit_code == 1);
    CHECK(contains(no_pid.err, "Couldn't find PID field in ps output"));
    auto bad = kiln({"top", "tops", "--no-such-ps-flag"});
    CHECK(bad.exit_code == 1);
    CHECK(contains(bad.err, "ps: "));

    REQUIRE(kiln({"kill", "tops"}).exit_code == 0);
    REQUIRE(soon([&] { return field(kiln, "tops", "{{.State.Status}}") == "exited"; }));
    auto stopped = kiln({"top", "tops"});
    CHECK(stopped.exit_code == 1);
    CHECK(contains(stopped.err, "Container " + id + " is not running"));
    CHECK(kiln({"top", "nosuch"}).exit_code == 1);
    CHECK(kiln({"rm", "tops"}).exit_code == 0);
}

TEST_CASE("stats --no-stream shows the memory limit, CPU use and process count of each container", "[ctl]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "-d", "--name", "limited", "--network", "none", "--memory", "64m", "localhost/busybox", "sleep", "1000"}).exit_code == 0);
    REQUIRE(kiln({"run", "-d", "--name", "busy", "localhost/busybox", "sh", "-c", "while :; do :; done"}).exit_code == 0);
    auto pids_run = kiln({"run", "-d", "--name", "three", "localhost/busybox", "sh", "-c", "sleep 1001 & sleep 1002 & wait"});
    REQUIRE(pids_run.exit_code == 0);
    const std::string three_id = trimmed(pids_run.out);
    REQUIRE(soon([&] { return contains(kiln({"top", "three"}).out, "sleep 1002"); }));

    auto stats = kiln({"stats", "--no-stream", "--format", "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}",
                       "limited", "busy", "three"});
    INFO(stats.out << stats.err);
    REQUIRE(stats.exit_code == 0);
    std::vector<std::string> lines;
    for (std::size_t start = 0; start < stats.out.size();) {
        auto nl = stats.out.find('\n', start);
        lines.push_back(stats.out.substr(start, nl - start));
        start = nl + 1;
    }
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].starts_with("limited|"));
    CHECK(contains(lines[0], " / 64MiB|"));
    CHECK(lines[0].ends_with("|1|0B / 0B"));  // only lo, which NET I/O leaves out as docker does
    CHECK(lines[1].starts_with("busy|"));
    const double busy_cpu = std::strtod(lines[1].substr(5).c_str(), nullptr);
    CHECK(busy_cpu > 1.0);
    CHECK(lines[1].substr(5).find("%|") != std::string::npos);
    CHECK(contains(lines[2], "|3|"));
    // Without --memory the limit is the host's memory.
    const auto meminfo = kiln::read_file("/proc/meminfo");
    const auto host_kib = std::stoull(meminfo.substr(meminfo.find(':') + 1));
    CHECK(contains(lines[2], " / " + kiln::bytes_size(host_kib * 1024) + "|"));

    auto table = kiln({"stats", "--no-stream", "three"});
    CHECK(table.exit_code == 0);
    const std::string header = table.out.substr(0, table.out.find('\n'));
    CHECK(header.starts_with("CONTAINER ID   NAME"));
    for (const char* column : {"CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"})
        CHECK(contains(header, column));
    CHECK(contains(table.out, three_id.substr(0, 12) + "   three"));
    CHECK_FALSE(contains(table.out, three_id));
    CHECK(contains(kiln({"stats", "--no-stream", "--no-trunc", "three"}).out, three_id));
    // Every running container without names; json as the docker CLI's keys.
    auto all = kiln({"stats", "--no-stream", "--format", "json"});
    CHECK(std::count(all.out.begin(), all.out.end(), '\n') == 3);
    CHECK(contains(all.out, "\"Name\":\"limited\""));
    CHECK(contains(all.out, "\"PIDs\":\"3\""));

    auto missing = kiln({"stats", "--no-stream", "three", "nosuch"});
    CHECK(missing.exit_code == 1);
    CHECK(contains(missing.err, "No such container: nosuch"));
    CHECK(missing.out.empty());

    // Streaming to a pipe: plain blocks, one a second, no terminal escapes.
    auto stream = kiln::test::run_command(
        {"timeout", "3.5", KILN_BINARY, "--root", kiln.root.path(), "stats", "--format", "{{.Name}} {{.PIDs}}", "three"});
    CHECK(stream.exit_code == 124);
    CHECK(std::count(stream.out.begin(), stream.out.end(), '\n') >= 2);
    CHECK(contains(stream.out, "three 3\nthree 3\n"));
    CHECK_FALSE(contains(stream.out, "\033["));

    // A stopped container named reads all zeros, as in docker.
    REQUIRE(kiln({"stop", "-t", "0", "limited"}).exit_code == 0);
    CHECK(trimmed(kiln({"stats", "--no-stream", "--format", "{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", "limited"}).out) ==
          "0.00% 0B / 0B 0");
    CHECK(kiln({"rm", "-f", "limited", "busy", "three"}).exit_code == 0);
}

TEST_CASE("rename checks names like docker and ps and inspect show the new one", "[ctl]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto first = kiln({"run", "-d", "--name", "before", "localhost/busybox", "sleep", "1000"});
    REQUIRE(first.exit_code == 0);
    const std::string id = trimmed(first.out);
    REQUIRE(kiln({"create", "--name", "other", "localhost/busybox", "true"}).exit_code == 0);

    auto rename = kiln({"rename", "before", "after"});
    INFO(rename.err);
    CHECK(rename.exit_code == 0);
    CHECK(rename.out.empty());
    CHECK(field(kiln, "after", "{{.Name}} {{.Id}}") == "/after " + id);
    CHECK(trimmed(kiln({"ps", "--format", "{{.Names}}"}).out) == "after");
    CHECK(kiln({"inspect", "before"}).exit_code == 1);
    // The old name is free again.
    CHECK(kiln({"create", "--name", "before", "localhost/busybox", "true"}).exit_code == 0);

    auto same = kiln({"rename", "after", "after"});
    CHECK(same.exit_code == 1);
    CHECK(contains(same.err, "Renaming a container with the same name as its current name"));
    auto taken = kiln({"rename", "after", "other"});
    CHECK(taken.exit_code == 1);
    CHECK(contains(taken.err, "Error when allocating new name: Conflict. The container name \"/other\" is already in use"));
    auto invalid = kiln({"rename", "after", "bad name!"});
    CHECK(invalid.exit_code == 1);
    CHECK(contains(invalid.err, "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
    CHECK(std::count(invalid.err.begin(), invalid.err.end(), '\n') == 1);
    auto empty = kiln({"rename", "after", " "});
    CHECK(empty.exit_code == 1);
    CHECK(contains(empty.err, "Neither old nor new names may be empty"));
    auto missing = kiln({"rename", "nosuch", "fresh"});
    CHECK(missing.exit_code == 1);
    CHECK(contains(missing.err, "No such container: nosuch"));
    // Nothing changed by the refusals; the id prefix and a leading '/' work as in docker.
    CHECK(kiln({"rename", id.substr(0, 8), "/final"}).exit_code == 0);
    CHECK(field(kiln, id, "{{.Name}}") == "/final");
    CHECK(kiln({"rm", "-f", "final", "other", "before"}).exit_code == 0);
}

TEST_CASE("port with no published port prints nothing and names the missing port like docker", "[ctl]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "-d", "--name", "noports", "localhost/busybox", "sleep", "1000"}).exit_code == 0);
    auto all = kiln({"port", "noports"});
    CHECK(all.exit_code == 0);
    CHECK(all.out.empty());
    auto one = kiln({"port", "noports", "80/tcp"});
    CHECK(one.exit_code == 1);
    CHECK(contains(one.err, "Error: No public port '80/tcp' published for noports"));
    CHECK(contains(kiln({"port", "noports", "53"}).err, "Error: No public port '53' published for noports"));
    auto bad = kiln({"port", "noports", "http"});
    CHECK(bad.exit_code == 1);
    CHECK(contains(bad.err, "Error: invalid port (http)"));
    CHECK(kiln({"port", "nosuch"}).exit_code == 1);
    CHECK(field(kiln, "noports", "{{json .HostConfig.PortBindings}} {{json .NetworkSettings.Ports}}") == "{} {}");
    CHECK(kiln({"rm", "-f", "noports"}).exit_code == 0);
}

TEST_CASE("ps -s shows the writable layer's size and the virtual size with the image", "[ctl]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "-d", "--name", "writer", "localhost/busybox", "sh", "-c",
                  "head -c 1500 /dev/zero > /payload; sleep 1000"})
                .exit_code == 0);
    REQUIRE(soon([&] { return contains(kiln({"ps", "-s", "--format", "{{.Size}}"}).out, "1.5kB"); }));
    auto size = trimmed(kiln({"ps", "-s", "--format", "{{.Size}}"}).out);
    CHECK(size.starts_with("1.5kB (virtual "));
    CHECK(size.ends_with("MB)"));
    auto table = kiln({"ps", "-s"});
    const std::string header = table.out.substr(0, table.out.find('\n'));
    CHECK(trimmed(header).ends_with("NAMES     SIZE"));
    CHECK(contains(table.out, "1.5kB (virtual "));
    // Without -s or a .Size in the format, no size is computed or shown.
    CHECK_FALSE(contains(kiln({"ps"}).out, "SIZE"));
    CHECK(kiln({"rm", "-f", "writer"}).exit_code == 0);
}
