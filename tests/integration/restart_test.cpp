// --restart: a detached container's monitor starts it again as Docker's restart manager
// would (the policy, the count, the 100 ms doubling backoff), inspect shows RestartCount
// and State.Restarting, and `kiln stop` ends the restarting for good.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "harness.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

std::string inspect(const Kiln& kiln, const std::string& name, const std::string& format) {
    return trimmed(kiln({"inspect", "-f", format, name}).out);
}

// Lines the container wrote to its log so far.
std::size_t log_lines(const Kiln& kiln, const std::string& name) {
    auto out = kiln({"logs", name}).out;
    return static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
}

}  // namespace

TEST_CASE("restart on-failure:2 restarts a failing container exactly twice, then it stays exited", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "--name", "flaky", "--restart", "on-failure:2", "localhost/busybox", "sh", "-c",
                     "echo started; exit 1"});
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    // Three runs in all: the first and two restarts (100 ms, then 200 ms later).
    REQUIRE(soon([&] { return inspect(kiln, "flaky", "{{.State.Status}}") == "exited"; }, 20000));
    CHECK(inspect(kiln, "flaky", "{{.RestartCount}} {{.State.ExitCode}} {{.State.Restarting}}") == "2 1 false");
    CHECK(kiln({"logs", "flaky"}).out == "started\nstarted\nstarted\n");
    CHECK(inspect(kiln, "flaky", "{{json .HostConfig.RestartPolicy}}") == "{\"Name\":\"on-failure\",\"MaximumRetryCount\":2}");
    CHECK(!kiln::path_exists(kiln::runtime::runtime_dirs_parent() + "/" + id));

    // A success is not a failure: no restart.
    REQUIRE(kiln({"run", "-d", "--name", "fine", "--restart", "on-failure", "localhost/busybox", "true"}).exit_code == 0);
    REQUIRE(soon([&] { return inspect(kiln, "fine", "{{.State.Status}}") == "exited"; }));
    CHECK(inspect(kiln, "fine", "{{.RestartCount}} {{.State.ExitCode}}") == "0 0");

    // Starting it by hand counts from 0 again.
    REQUIRE(kiln({"start", "flaky"}).exit_code == 0);
    REQUIRE(soon([&] { return inspect(kiln, "flaky", "{{.State.Status}}") == "exited"; }, 20000));
    CHECK(inspect(kiln, "flaky", "{{.RestartCount}}") == "2");
    CHECK(log_lines(kiln, "flaky") == 6);
}

TEST_CASE("restart always brings a container back after it exits, and stop ends that for good", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "--name", "phoenix", "--restart", "always", "localhost/busybox", "sh", "-c",
                     "echo up; sleep 0.2"});
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    REQUIRE(soon([&] { return std::stoi(inspect(kiln, "phoenix", "{{.RestartCount}}")) >= 2; }, 20000));
    CHECK(soon([&] { return log_lines(kiln, "phoenix") >= 3; }));
    CHECK(kiln({"ps", "-q", "--no-trunc"}).out == id + "\n");

    CHECK(kiln({"stop", "phoenix"}).exit_code == 0);
    CHECK(inspect(kiln, "phoenix", "{{.State.Status}} {{.State.Restarting}}") == "exited false");
    const auto count = inspect(kiln, "phoenix", "{{.RestartCount}}");
    const auto lines = log_lines(kiln, "phoenix");
    // Longer than any backoff so far: nothing starts it again.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    CHECK(inspect(kiln, "phoenix", "{{.State.Status}} {{.RestartCount}}") == "exited " + count);
    CHECK(log_lines(kiln, "phoenix") == lines);
    CHECK(!kiln::path_exists(kiln::runtime::runtime_dirs_parent() + "/" + id));
    CHECK(kiln({"rm", "phoenix"}).exit_code == 0);
}

TEST_CASE("stop during a restart's backoff ends it, rm -f of a restarting container leaves nothing", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    // Exits at once, so it spends most of its time waiting to restart.
    REQUIRE(kiln({"run", "-d", "--name", "looping", "--restart", "always", "localhost/busybox", "sh", "-c", "exit 3"})
                .exit_code == 0);
    REQUIRE(soon([&] { return inspect(kiln, "looping", "{{.State.Restarting}}") == "true"; }, 20000));
    CHECK(inspect(kiln, "looping", "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}") == "restarting 3 0");
    CHECK(kiln({"ps", "--filter", "status=restarting", "--format", "{{.Names}} {{.Status}}"}).out.starts_with("looping Restarting (3) "));
    CHECK(kiln({"stop", "looping"}).exit_code == 0);
    CHECK(inspect(kiln, "looping", "{{.State.Status}} {{.State.ExitCode}}") == "exited 3");

    auto run = kiln({"run", "-d", "--restart", "always", "localhost/busybox", "sh", "-c", "exit 4"});
    REQUIRE(run.exit_code == 0);
    const std::string id = trimmed(run.out);
    REQUIRE(soon([&] { return inspect(kiln, id, "{{.RestartCount}}") != "0"; }, 20000));
    CHECK(kiln({"rm", "-f", id}).exit_code == 0);
    CHECK(kiln({"ps", "-aq", "--no-trunc"}).out == trimmed(kiln({"inspect", "-f", "{{.Id}}", "looping"}).out) + "\n");
    CHECK(!kiln::path_exists(kiln::runtime::runtime_dirs_parent() + "/" + id));
    CHECK(!kiln::path_exists(kiln.root.path() + "/containers/" + id));
}

TEST_CASE("bad --restart values and --restart with --rm are refused before anything is created", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto rm = kiln({"run", "-d", "--rm", "--restart", "always", "localhost/busybox", "true"});
    CHECK(rm.exit_code == 125);
    CHECK(kiln({"create", "--rm", "--restart", "always", "localhost/busybox", "true"}).err ==
          "kiln: Conflicting options: --restart and --rm\n");
    CHECK(kiln({"run", "-d", "--restart", "sometimes", "localhost/busybox", "true"}).exit_code == 125);
    CHECK(kiln({"run", "-d", "--restart", "always:3", "localhost/busybox", "true"}).exit_code == 125);
    CHECK(kiln({"run", "--restart", "always", "localhost/busybox", "true"}).exit_code == 125);
    CHECK(kiln({"ps", "-aq"}).out.empty());
}

TEST_CASE("kill ends a restart policy as docker's does: SIGKILL or the stop signal, not another signal",
          "[lifecycle][restart]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::vector<std::string> looping = {"sh", "-c", "trap 'exit 7' HUP; trap 'exit 8' USR1; echo up; while true; do sleep 0.1; done"};
    auto run_with = [&](const std::string& name, std::vector<std::string> flags) {
        std::vector<std::string> args = {"run", "-d", "--name", name, "--restart", "always"};
        args.insert(args.end(), flags.begin(), flags.end());
        args.push_back("localhost/busybox");
        args.insert(args.end(), looping.begin(), looping.end());
        REQUIRE(kiln(args).exit_code == 0);
        REQUIRE(soon([&] { return log_lines(kiln, name) == 1; }));
    };

    run_with("killed", {});
    CHECK(kiln({"kill", "killed"}).exit_code == 0);
    REQUIRE(soon([&] { return inspect(kiln, "killed", "{{.State.Status}}") == "exited"; }));
    // Longer than the first backoff (100 ms): nothing starts it again.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(inspect(kiln, "killed", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}") == "exited 137 0");
    CHECK(log_lines(kiln, "killed") == 1);

    // Not the stop signal (USR1 here): the policy still applies, and the container comes back.
    run_with("hupped", {"--stop-signal", "SIGUSR1"});
    CHECK(kiln({"kill", "-s", "HUP", "hupped"}).exit_code == 0);
    REQUIRE(soon([&] { return log_lines(kiln, "hupped") == 2; }, 20000));
    CHECK(inspect(kiln, "hupped", "{{.RestartCount}}") == "1");
    // The stop signal is a manual stop (sh, the container's pid 1, exits on it through its trap).
    CHECK(soon([&] { return inspect(kiln, "hupped", "{{.State.Status}}") == "running"; }));
    CHECK(kiln({"kill", "-s", "USR1", "hupped"}).exit_code == 0);
    REQUIRE(soon([&] { return inspect(kiln, "hupped", "{{.State.Status}}") == "exited"; }));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CHECK(inspect(kiln, "hupped", "{{.State.Status}} {{.RestartCount}}") == "exited 1");
    CHECK(kiln({"rm", "killed", "hupped"}).exit_code == 0);
}
