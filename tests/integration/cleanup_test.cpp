// kill -9 of a kiln process that runs a container: the container dies with it
// (PDEATHSIG), and the next kiln command removes its cgroups, its runtime directory and
// its snapshot, with no flag and no daemon.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "traced_kiln.hpp"
#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// A command running in the background with its output discarded; killed (SIGKILL) and
// reaped on destruction unless already reaped.
class BackgroundProcess {
public:
    explicit BackgroundProcess(const std::vector<std::string>& argv) {
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        ::posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        std::vector<char*> cargv;
        for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
        cargv.push_back(nullptr);
        int rc = ::posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) kiln::throw_errno("spawn " + argv[0], rc);
    }
    ~BackgroundProcess() { kill_and_reap(); }
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    pid_t pid() const { return pid_; }
    void kill_and_reap() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

std::vector<pid_t> pids_in(const std::string& procs_file) {
    std::vector<pid_t> pids;
    std::string text;
    try {
        text = kiln::read_file(procs_file);
    } catch (const kiln::Error&) {
        return pids;
    }
    for (std::size_t pos = 0; pos < text.size();) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (nl > pos) pids.push_back(std::stoi(text.substr(pos, nl - pos)));
        pos = nl + 1;
    }
    return pids;
}

// "/proc/<pid>/stat" fields: state (3rd) and parent pid (4th); the command name before
// them is in parentheses and may hold spaces.
bool read_stat(pid_t pid, char& state, pid_t& parent) {
    std::string stat;
    try {
        stat = kiln::read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const kiln::Error&) {
        return false;
    }
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 > stat.size()) return false;
    state = stat[close + 2];
    parent = std::stoi(stat.substr(close + 4));
    return true;
}

// Every cgroup directory kiln may make for `id`, in the hierarchies of this host.
std::vector<std::string> cgroup_dirs_of(const std::string& id) {
    std::vector<std::string> found;
    for (const std::string root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
        if (kiln::path_exists(root + "/kiln/" + id)) found.push_back(root + "/kiln/" + id);
        for (const auto& sub : kiln::test::dir_entries(root))
            if (kiln::path_exists(root + "/" + sub + "/kiln/" + id)) found.push_back(root + "/" + sub + "/kiln/" + id);
    }
    return found;
}

struct RunningContainer {
    std::string id;
    std::vector<pid_t> pids;
};

// Waits until a container whose init is a child of `kiln_pid` runs `command` (its argv[0]:
// before its exec the child still has kiln's command line, whose "-t sleeper" would match
// too early); returns its id (its cgroups' name) and its processes.
RunningContainer wait_for_container(pid_t kiln_pid, const std::string& command) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
        for (const std::string root : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
            for (const auto& id : kiln::test::dir_entries(root + "/kiln")) {
                auto pids = pids_in(root + "/kiln/" + id + "/cgroup.procs");
                for (pid_t pid : pids) {
                    char state;
                    pid_t parent;
                    std::string cmdline;
                    try {
                        cmdline = kiln::read_file("/proc/" + std::to_string(pid) + "/cmdline");
                    } catch (const kiln::Error&) {
                        continue;
                    }
                    const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
                    if (read_stat(pid, state, parent) && parent == kiln_pid &&
                        (argv0 == command || argv0.ends_with("/" + command)))
                        return {id, pids};
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("no container of kiln process " << kiln_pid << " started running " << command);
    return {};
}

// True once none of `pids` runs any more (a zombie waiting for its reaper counts as gone).
bool all_gone_soon(const std::vector<pid_t>& pids) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    for (;;) {
        bool any = false;
        for (pid_t pid : pids) {
            char state;
            pid_t parent;
            if (read_stat(pid, state, parent) && state != 'Z' && state != 'X') any = true;
        }
        if (!any) return true;
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// One later plain `kiln run` removes everything a dead kiln left of container `id`.
void check_next_run_cleans_up(const kiln::test::Kiln& kiln, const std::string& id) {
    auto later = kiln({"run", "--rm", "localhost/busybox", "true"});
    INFO(later.err);
    CHECK(later.exit_code == 0);
    CHECK(cgroup_dirs_of(id).empty());
    CHECK_FALSE(kiln::path_exists(kiln::runtime::runtime_dirs_parent() + "/" + id));
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());
}

// Kills the kiln process that runs the container, then checks that the container dies
// and that one later plain `kiln run` removes everything the dead kiln left behind.
void check_kill9_leaves_nothing(const kiln::test::Kiln& kiln, BackgroundProcess& owner) {
    RunningContainer container = wait_for_container(owner.pid(), "sleep");
    INFO("container " << container.id);
    REQUIRE_FALSE(container.pids.empty());
    REQUIRE_FALSE(cgroup_dirs_of(container.id).empty());
    REQUIRE_FALSE(kiln::test::dir_entries(kiln.root.path() + "/snapshots").empty());

    owner.kill_and_reap();
    CHECK(all_gone_soon(container.pids));
    check_next_run_cleans_up(kiln, container.id);
}

// kill -9 of kiln while the test holds the container process it just cloned (see
// traced_kiln.hpp): the process must see that its parent is gone and end by itself.
void check_kill9_in_the_window(const std::vector<std::string>& run_args, kiln::test::HoldPoint point,
                               bool is_container_init) {
    kiln::test::Kiln kiln;
    kiln::test::import_base(kiln);
    std::string target;
    if (!is_container_init) {
        auto started = kiln({"run", "-d", "--network", "none", "localhost/busybox", "sleep", "300"});
        REQUIRE(started.exit_code == 0);
        target = started.out.substr(0, 12);
    }
    std::vector<std::string> args = run_args;
    if (!target.empty()) args.insert(args.begin() + 1, target);
    auto held = kiln::test::kill_kiln_while_holding_child(kiln.argv(args), point);
    INFO("held process " << held.pid << ", cgroup " << held.cgroup_id);
    const bool ended = all_gone_soon({held.pid});
    if (!ended) ::kill(held.pid, SIGKILL);
    CHECK(ended);
    if (is_container_init) {
        REQUIRE_FALSE(held.cgroup_id.empty());
        check_next_run_cleans_up(kiln, held.cgroup_id);
    } else {
        auto still = kiln({"exec", target, "true"});  // the container itself lives on
        CHECK(still.exit_code == 0);
        CHECK(kiln({"rm", "-f", target}).exit_code == 0);
    }
}

}  // namespace

TEST_CASE("kill -9 of kiln run leaves no container, cgroup, runtime dir or snapshot", "[cleanup]") {
    SKIP_UNLESS_ROOT();
    kiln::test::Kiln kiln;
    kiln::test::import_base(kiln);
    BackgroundProcess run(kiln.argv({"run", "--rm", "localhost/busybox", "sleep", "30"}));
    check_kill9_leaves_nothing(kiln, run);
}

TEST_CASE("kill -9 of kiln build during RUN leaves no container, cgroup, runtime dir or snapshot", "[cleanup]") {
    SKIP_UNLESS_ROOT();
    kiln::test::Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir context("/tmp", "kiln-it-ctx-");
    kiln::atomic_write(context.path() + "/Dockerfile", "FROM localhost/busybox\nRUN sleep 30\n");
    BackgroundProcess build(kiln.argv({"build", "-t", "sleeper", context.path()}));
    check_kill9_leaves_nothing(kiln, build);
}

TEST_CASE("kill -9 of kiln run right after the clone, before the parent-death signal, leaves no container",
          "[cleanup][race]") {
    SKIP_UNLESS_ROOT();
    check_kill9_in_the_window({"run", "--rm", "--network", "none", "localhost/busybox", "sleep", "30"},
                              kiln::test::HoldPoint::first_instruction, true);
}

TEST_CASE("kill -9 of kiln run after the container's change of user cleared the parent-death signal "
          "leaves no container", "[cleanup][race]") {
    SKIP_UNLESS_ROOT();
    check_kill9_in_the_window({"run", "--rm", "--network", "none", "-u", "1000:1000", "localhost/busybox", "sleep", "30"},
                              kiln::test::HoldPoint::after_setresuid, true);
}

TEST_CASE("kill -9 of kiln exec before the command armed its parent-death signal leaves no process",
          "[cleanup][race]") {
    SKIP_UNLESS_ROOT();
    check_kill9_in_the_window({"exec", "sleep", "30"}, kiln::test::HoldPoint::first_instruction, false);
}
