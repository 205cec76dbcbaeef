// Containers that live without a daemon: run -d, ps, logs, stop, kill, wait, rm, inspect,
// each from a separate kiln process, as docker's everyday workflow.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::host_traces_gone;
using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

std::string inspect(const Kiln& kiln, const std::string& name, const std::string& format) {
    return trimmed(kiln({"inspect", "-f", format, name}).out);
}

}  // namespace

TEST_CASE("run -d, ps, logs, stop, rm: the everyday workflow from separate kiln processes", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "--name", "web1", "-d", "localhost/busybox", "sh", "-c",
                     "echo hello; echo oops >&2; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    REQUIRE(id.size() == 64);

    auto ps = kiln({"ps"});
    CHECK(ps.out.starts_with("CONTAINER ID"));
    CHECK(ps.out.find("IMAGE") != std::string::npos);
    CHECK(ps.out.find("web1") != std::string::npos);
    CHECK(ps.out.find(id.substr(0, 12)) != std::string::npos);
    CHECK(ps.out.find("Up ") != std::string::npos);
    CHECK(inspect(kiln, "web1", "{{.State.Status}} {{.State.Running}} {{.Name}}") == "running true /web1");
    CHECK(inspect(kiln, id.substr(0, 6), "{{.Id}}") == id);

    REQUIRE(soon([&] { return kiln({"logs", "web1"}).out == "hello\n"; }));
    auto logs = kiln({"logs", "web1"});
    CHECK(logs.err == "oops\n");
    // The json-file log, as Docker writes it.
    auto log = kiln::read_file(kiln.root.path() + "/containers/" + id + "/" + id + "-json.log");
    auto first = nlohmann::json::parse(log.substr(0, log.find('\n')));
    CHECK(first["log"] == "hello\n");
    CHECK(first["stream"] == "stdout");
    CHECK(first["time"].get<std::string>().ends_with("Z"));

    auto again = kiln({"run", "--name", "web1", "-d", "localhost/busybox", "true"});
    CHECK(again.exit_code == 125);
    CHECK(again.err.find("Conflict. The container name \"/web1\" is already in use by container \"" + id) !=
          std::string::npos);

    auto stop = kiln({"stop", "web1"});
    CHECK(stop.exit_code == 0);
    CHECK(trimmed(stop.out) == "web1");
    CHECK(inspect(kiln, "web1", "{{.State.Status}} {{.State.ExitCode}}") == "exited 0");
    CHECK(kiln({"logs", "web1"}).out == "hello\nbye\n");
    CHECK(kiln({"ps", "-a", "--format", "{{.Status}}"}).out.starts_with("Exited (0) "));
    CHECK(kiln({"ps", "-q"}).out.empty());
    CHECK(trimmed(kiln({"ps", "-aq", "--no-trunc"}).out) == id);

    CHECK(kiln({"rm", "web1"}).exit_code == 0);
    CHECK(kiln({"ps", "-aq"}).out.empty());
    CHECK(host_traces_gone(id));
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/containers").empty());
    CHECK(kiln({"rm", "web1"}).err.find("No such container: web1") != std::string::npos);
}

TEST_CASE("stop sends STOPSIGNAL, then SIGKILL after -t", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    // sh as pid 1 ignores SIGTERM (no handler): only the SIGKILL after the timeout ends it.
    auto run = kiln({"run", "-d", "--name", "stubborn", "localhost/busybox", "sleep", "1000"});
    REQUIRE(run.exit_code == 0);
    auto start = std::chrono::steady_clock::now();
    CHECK(kiln({"stop", "-t", "1", "stubborn"}).exit_code == 0);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= std::chrono::milliseconds(900));
    CHECK(took < std::chrono::seconds(5));
    CHECK(inspect(kiln, "stubborn", "{{.State.ExitCode}}") == "137");

    // --stop-signal is what stop sends first.
    auto usr = kiln({"run", "-d", "--name", "polite", "--stop-signal", "USR1", "localhost/busybox", "sh", "-c",
                     "trap 'exit 7' USR1; while :; do sleep 0.1; done"});
    REQUIRE(usr.exit_code == 0);
    CHECK(kiln({"stop", "polite"}).exit_code == 0);
    CHECK(inspect(kiln, "polite", "{{.State.ExitCode}}") == "7");
    CHECK(trimmed(kiln({"wait", "polite"}).out) == "7");
    CHECK(kiln({"rm", "stubborn", "polite"}).exit_code == 0);
}

TEST_CASE("exit codes are Docker's: 125, 126, 127, 128+N", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    CHECK(kiln({"run", "--bogus-flag", "localhost/busybox", "true"}).exit_code == 125);
    CHECK(kiln({"run", "-d", "localhost/nope", "true"}).exit_code == 125);
    CHECK(kiln({"run", "--name", "-bad", "localhost/busybox", "true"}).exit_code == 125);
    CHECK(kiln({"run", "--rm", "localhost/busybox", "nosuchcommand"}).exit_code == 127);
    CHECK(kiln({"run", "--rm", "localhost/busybox", "/etc/passwd"}).exit_code == 126);
    // pid 1 ignores signals it has no handler for, so a child of it is killed; sh passes on 128+N.
    CHECK(kiln({"run", "--rm", "localhost/busybox", "sh", "-c", "sleep 5 & sleep 0.1; kill -USR1 $!; wait $!"})
              .exit_code == 128 + SIGUSR1);
    CHECK(kiln({"run", "-d", "localhost/busybox", "nosuchcommand"}).exit_code == 127);
    // Foreground run keeps the container (exited) unless --rm; failed creates leave nothing.
    CHECK(kiln({"run", "--name", "kept", "localhost/busybox", "sh", "-c", "exit 3"}).exit_code == 3);
    CHECK(inspect(kiln, "kept", "{{.State.Status}} {{.State.ExitCode}}") == "exited 3");
    CHECK(trimmed(kiln({"wait", "kept"}).out) == "3");
    auto names = kiln({"ps", "-a", "--format", "{{.Names}}"}).out;
    CHECK(names.find("kept") != std::string::npos);
    CHECK(kiln({"container", "prune", "-f"}).exit_code == 0);
    CHECK(kiln({"ps", "-aq"}).out.empty());
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());
}

TEST_CASE("a detached container outlives kiln and after kill -9 of its monitor shows it exited and rm leaves nothing",
          "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "localhost/busybox", "sleep", "1000"});
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    // The kiln that started it has exited; the container runs on.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(inspect(kiln, id, "{{.State.Status}}") == "running");
    const std::string pid = inspect(kiln, id, "{{.State.Pid}}");
    // The monitor is the container's parent.
    auto stat = kiln::read_file("/proc/" + pid + "/stat");
    auto after = stat.substr(stat.rfind(')') + 2);
    pid_t monitor = std::stoi(after.substr(2));
    CHECK(kiln::read_file("/proc/" + std::to_string(monitor) + "/comm").starts_with("kiln-monitor"));
    ::kill(monitor, SIGKILL);
    CHECK(soon([&] { return inspect(kiln, id, "{{.State.Status}}") == "exited"; }));
    CHECK(soon([&] { return !kiln::path_exists("/proc/" + pid + "/stat") ||
                            kiln::read_file("/proc/" + pid + "/stat").find(") Z") != std::string::npos; }));
    CHECK(kiln({"rm", id}).exit_code == 0);
    CHECK(host_traces_gone(id));
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());
}

TEST_CASE("20 containers started at once all run with unique names and ids and rm -f of all leaves nothing",
          "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    std::vector<kiln::test::CommandResult> results(20);
    std::vector<std::thread> threads;
    for (auto& r : results) threads.emplace_back([&] { r = kiln({"run", "-d", "localhost/busybox", "sleep", "1000"}); });
    for (auto& t : threads) t.join();
    std::set<std::string> ids;
    for (auto& r : results) {
        INFO(r.err);
        CHECK(r.exit_code == 0);
        ids.insert(trimmed(r.out));
    }
    CHECK(ids.size() == 20);
    auto names = kiln({"ps", "--format", "{{.Names}}"}).out;
    std::set<std::string> unique;
    for (std::size_t pos = 0, nl; (nl = names.find('\n', pos)) != std::string::npos; pos = nl + 1)
        unique.insert(names.substr(pos, nl - pos));
    CHECK(unique.size() == 20);
    std::vector<std::string> rm = {"rm", "-f"};
    rm.insert(rm.end(), ids.begin(), ids.end());
    auto removed = kiln(rm);
    INFO(removed.err);
    CHECK(removed.exit_code == 0);
    CHECK(kiln({"ps", "-aq"}).out.empty());
    for (const auto& id : ids) CHECK(host_traces_gone(id));
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/containers").empty());
}

TEST_CASE("rmi and image prune keep an image that a container was created from", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(kiln({"run", "--name", "keeper", "localhost/busybox", "true"}).exit_code == 0);
    auto id = kiln({"images", "-q", "--no-trunc"}).out;

    auto refused = kiln({"rmi", "localhost/busybox"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("(must force) - container ") != std::string::npos);
    CHECK(kiln({"image", "prune", "-a", "-f"}).exit_code == 0);
    CHECK(kiln({"images", "-q", "--no-trunc"}).out == id);

    // Forced: the name goes, the image stays for its container, which still starts.
    CHECK(kiln({"rmi", "-f", "localhost/busybox"}).out == "Untagged: localhost/busybox:latest\n");
    CHECK(kiln({"images", "-q", "--no-trunc"}).out == id);
    CHECK(kiln({"start", "keeper"}).exit_code == 0);
    CHECK(kiln({"wait", "keeper"}).out == "0\n");

    // Once the container is gone, the dangling image is prunable.
    REQUIRE(kiln({"rm", "keeper"}).exit_code == 0);
    CHECK(kiln({"image", "prune", "-f"}).out.find("Total reclaimed space: 2.") != std::string::npos);
    CHECK(kiln({"images", "-q"}).out.empty());
}
