// Runs real containers on a busybox rootfs and checks the isolation from inside.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "harness.hpp"
#include "runtime/container.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace {

using kiln::runtime::ContainerSpec;

using kiln::test::Output;
using kiln::test::run;
using kiln::test::Sandbox;

Output run_sh(const std::string& script) { return run(Sandbox({"sh", "-c", script}).spec); }

std::string host_hostname() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

// Where the container's pids cgroup lists its processes (v1 hybrid or pure v2).
std::string cgroup_procs(const std::string& id) {
    for (std::string root : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup"}) {
        std::string path = root + "/kiln/" + id + "/cgroup.procs";
        if (kiln::path_exists(path)) return path;
    }
    return "";
}

}  // namespace

TEST_CASE("the command is PID 1 of a fresh pid namespace", "[runtime]") {
    SKIP_UNLESS_ROOT();
    auto r = run_sh("echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo; echo /proc/[0-9]*");
    CHECK(r.code == 0);
    CHECK(r.out == "1\nsh -c " + std::string("echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo; echo /proc/[0-9]*") +
                       " \n/proc/1\n");
    CHECK(r.err.empty());
}

TEST_CASE("the container has its own hostname and only a loopback interface", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "hostname; echo $HOSTNAME; ls /sys/class/net; echo $(( $(cat /sys/class/net/lo/flags) & 1 ))"});
    box.spec.id = kiln::runtime::generate_container_id();
    auto r = run(box.spec);
    std::string short_id = box.spec.id.substr(0, 12);
    CHECK(r.code == 0);
    CHECK(r.out == short_id + "\n" + short_id + "\nlo\n1\n");
    CHECK(short_id != host_hostname());

    box.spec.hostname = "builder";
    CHECK(run(box.spec).out.starts_with("builder\nbuilder\n"));
}

TEST_CASE("writes go to the overlay upper dir, never to the host or the lower dir", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "echo hi > /kiln-marker && rm /etc/group && cat /kiln-marker"});
    std::string marker = "/kiln-marker";
    REQUIRE_FALSE(kiln::path_exists(marker));
    auto r = run(box.spec);
    CHECK(r.code == 0);
    CHECK(r.out == "hi\n");
    CHECK_FALSE(kiln::path_exists(marker));
    CHECK(kiln::read_file(box.dir.path() + "/upper/kiln-marker") == "hi\n");
    CHECK(kiln::path_exists(kiln::test::shared_busybox_rootfs() + "/etc/group"));
    // The mount lived only in the container's mount namespace.
    CHECK(kiln::read_file("/proc/self/mountinfo").find(box.spec.state_dir) == std::string::npos);
}

TEST_CASE("overlay lowerdirs may be relative to the rootfs base_dir", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"cat", "/etc/passwd"});
    kiln::mkdir_p(box.dir.path() + "/l");
    REQUIRE(::symlink(kiln::test::shared_busybox_rootfs().c_str(), (box.dir.path() + "/l/A").c_str()) == 0);
    box.spec.rootfs.base_dir = box.dir.path();
    box.spec.rootfs.options = "lowerdir=l/A,upperdir=upper,workdir=work";
    auto r = run(box.spec);
    CHECK(r.code == 0);
    CHECK(r.out.starts_with("root:x:0:0:"));
}

TEST_CASE("the container starts with only stdin, stdout and stderr open", "[runtime]") {
    SKIP_UNLESS_ROOT();
    // A descriptor kiln's caller leaked without O_CLOEXEC must not reach the container.
    kiln::UniqueFd leaked(::open("/dev/null", O_RDONLY));
    REQUIRE(leaked.get() > 2);
    // pid 1 is the shell; `ls` runs as its child (not the last command, so the shell
    // cannot exec it in place) and lists the shell's table, not its own.
    auto r = run_sh("ls /proc/1/fd; exit 0");
    CHECK(r.code == 0);
    CHECK(r.out == "0\n1\n2\n");
}

TEST_CASE("exit codes follow docker run", "[runtime]") {
    SKIP_UNLESS_ROOT();
    CHECK(run_sh("exit 3").code == 3);

    auto missing = run(Sandbox({"no-such-command"}).spec);
    CHECK(missing.code == 127);
    CHECK(missing.err == "exec: \"no-such-command\": executable file not found in $PATH\n");
    CHECK(run(Sandbox({"/no/such/file"}).spec).code == 127);

    auto not_exec = run(Sandbox({"/etc/passwd"}).spec);
    CHECK(not_exec.code == 126);
    CHECK(not_exec.err == "exec: \"/etc/passwd\": permission denied\n");

    // A shell's child killed by a signal: the shell reports 128+n like Docker does.
    CHECK(run_sh("sh -c 'kill -9 $$'; exit $?").code == 137);
}

TEST_CASE("a container killed by a signal exits with 128+signal", "[runtime]") {
    SKIP_UNLESS_ROOT();
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    kiln::UniqueFd read_end(fds[0]), write_end(fds[1]);
    Sandbox box({"sh", "-c", "echo ready; exec sleep 30"});
    box.spec.id = kiln::runtime::generate_container_id();
    box.spec.stdout_fd = write_end.get();
    auto result = std::async(std::launch::async, [&] { return kiln::runtime::run_container(box.spec); });
    char buf[6] = {};
    REQUIRE(::read(read_end.get(), buf, sizeof buf) == 6);
    std::string procs_path = cgroup_procs(box.spec.id);
    REQUIRE_FALSE(procs_path.empty());
    pid_t pid = std::stoi(kiln::read_file(procs_path));
    // pid 1 ignores signals it has no handler for, except SIGKILL from an ancestor.
    REQUIRE(::kill(pid, SIGKILL) == 0);
    CHECK(result.get() == 137);
    CHECK_FALSE(kiln::path_exists(procs_path));  // the cgroup was cleaned up
}

TEST_CASE("SIGTERM to kiln is forwarded to the container", "[runtime]") {
    SKIP_UNLESS_ROOT();
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    kiln::UniqueFd read_end(fds[0]), write_end(fds[1]);
    Sandbox box({"sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"});
    box.spec.stdout_fd = write_end.get();
    auto result = std::async(std::launch::async, [&] { return kiln::runtime::run_container(box.spec); });
    char buf[6] = {};
    REQUIRE(::read(read_end.get(), buf, sizeof buf) == 6);
    REQUIRE(::kill(::getpid(), SIGTERM) == 0);
    CHECK(result.get() == 7);
}

TEST_CASE("privileges are reduced to Docker's defaults", "[runtime]") {
    SKIP_UNLESS_ROOT();
    auto r = run_sh("grep -E '^(CapBnd|CapEff|CapInh|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status");
    CHECK(r.code == 0);
    CHECK(r.out ==
          "CapInh:\t0000000000000000\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
          "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
    // The seccomp profile refuses namespaces and mounts even to root in the container.
    auto blocked = run_sh("unshare -n true 2>/dev/null && echo unshare; mount -t tmpfs t /mnt 2>/dev/null && echo mount; "
                          "sh -c 'echo 1 > /proc/sys/kernel/sysrq' 2>/dev/null && echo sysrq; "
                          "touch /sys/x 2>/dev/null && echo sys; echo done");
    CHECK(blocked.out == "done\n");
}

TEST_CASE("sensitive /proc paths are masked or read-only", "[runtime]") {
    SKIP_UNLESS_ROOT();
    auto r = run_sh("grep -E ' /proc/(sys|irq|bus|fs) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1; "
                    "cat /proc/timer_list 2>/dev/null | wc -c; ls /sys/firmware | wc -l");
    CHECK(r.code == 0);
    CHECK(r.out.find("/proc/sys ro\n") != std::string::npos);
    CHECK(r.out.find("/proc/irq ro\n") != std::string::npos);
    CHECK(r.out.ends_with("0\n0\n"));
}

TEST_CASE("the user is resolved in the container's /etc/passwd", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "id -u; id -g; echo $HOME; grep CapEff /proc/self/status"});
    box.spec.user = "nobody";
    CHECK(run(box.spec).out == "65534\n65534\n/nonexistent\nCapEff:\t0000000000000000\n");
    box.spec.user = "1234:5678";
    CHECK(run(box.spec).out.starts_with("1234\n5678\n/\n"));
    box.spec.user = "root";
    box.spec.env = {"HOME=/elsewhere"};
    CHECK(run(box.spec).out.starts_with("0\n0\n/elsewhere\n"));
    box.spec.user = "nosuchuser";
    CHECK_THROWS_AS(run(box.spec), kiln::Error);
}

TEST_CASE("cwd is created and env is passed with Docker's defaults", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "pwd; echo $FOO; echo $PATH; echo $HOME"});
    box.spec.cwd = "/work/dir";
    box.spec.env = {"FOO=bar baz"};
    auto r = run(box.spec);
    CHECK(r.code == 0);
    CHECK(r.out == "/work/dir\nbar baz\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/root\n");
    box.spec.env = {"PATH=/bin"};
    box.spec.args = {"sh", "-c", "echo $PATH; pwd"};
    box.spec.cwd = "";  // an image without WORKDIR
    CHECK(run(box.spec).out == "/bin\n/\n");
    box.spec.cwd = "relative";
    CHECK_THROWS_AS(run(box.spec), kiln::Error);
}

TEST_CASE("stdin is passed through and defaults to /dev/null", "[runtime]") {
    SKIP_UNLESS_ROOT();
    CHECK(run_sh("cat; echo end").out == "end\n");
    kiln::TempDir tmp("/tmp", "kiln-stdin-");
    kiln::atomic_write(tmp.path() + "/in", "from the host\n");
    kiln::UniqueFd in(::open((tmp.path() + "/in").c_str(), O_RDONLY | O_CLOEXEC));
    Sandbox box({"cat"});
    box.spec.stdin_fd = in.get();
    CHECK(run(box.spec).out == "from the host\n");
}

TEST_CASE("bind mounts, read-only or writable", "[runtime]") {
    SKIP_UNLESS_ROOT();
    kiln::TempDir host("/tmp", "kiln-bind-");
    kiln::atomic_write(host.path() + "/file", "shared\n");
    Sandbox box({"sh", "-c", "cat /data/ro/file; touch /data/ro/x 2>/dev/null && echo wrote-ro; echo out > /data/rw/new"});
    box.spec.binds = {{host.path(), "/data/ro", true}, {host.path(), "/data/rw", false}};
    auto r = run(box.spec);
    CHECK(r.code == 0);
    CHECK(r.out == "shared\n");
    CHECK(kiln::read_file(host.path() + "/new") == "out\n");
    CHECK_FALSE(kiln::path_exists(host.path() + "/x"));
}

TEST_CASE("a read-only rootfs and a bind rootfs", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "touch /x 2>/dev/null && echo wrote; cat /etc/group | head -1"});
    box.spec.rootfs = {"bind", kiln::test::shared_busybox_rootfs(), "", "", true};
    auto r = run(box.spec);
    CHECK(r.code == 0);
    CHECK(r.out == "root:x:0:\n");
}

TEST_CASE("setup failures surface as kiln::Error with the reason", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"true"});
    box.spec.rootfs = {"bind", box.dir.path() + "/missing", "", "", false};
    try {
        run(box.spec);
        FAIL("no error");
    } catch (const kiln::Error& e) {
        CHECK(std::string(e.what()).find("bind rootfs") != std::string::npos);
        CHECK(std::string(e.what()).find("No such file or directory") != std::string::npos);
    }
}

TEST_CASE("the container has its own cgroup namespace rooted at its cgroup", "[runtime]") {
    SKIP_UNLESS_ROOT();
    auto r = run_sh("cat /proc/self/cgroup");
    CHECK(r.code == 0);
    // Every line ends in ":/": each hierarchy's root is the container's own cgroup.
    std::size_t lines = 0, rooted = 0;
    for (std::size_t pos = 0; pos < r.out.size();) {
        auto nl = r.out.find('\n', pos);
        std::string line = r.out.substr(pos, nl - pos);
        ++lines;
        if (line.ends_with(":/")) ++rooted;
        pos = nl == std::string::npos ? r.out.size() : nl + 1;
    }
    CHECK(lines > 0);
    CHECK(rooted == lines);
}

TEST_CASE("the command starts with default signal dispositions and an empty mask", "[runtime]") {
    SKIP_UNLESS_ROOT();
    // Callers often ignore SIGPIPE (and block signals in worker threads); the container
    // must not inherit either.
    struct sigaction ignore{}, saved{};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &saved);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    ::pthread_sigmask(SIG_BLOCK, &block, &old);
    auto r = run(Sandbox({"grep", "-E", "^Sig(Blk|Ign|Cgt):", "/proc/self/status"}).spec);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::sigaction(SIGPIPE, &saved, nullptr);
    CHECK(r.out == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n");
}

TEST_CASE("containers run concurrently from several threads", "[runtime]") {
    SKIP_UNLESS_ROOT();
    std::vector<std::future<Output>> runs;
    for (int i = 0; i < 6; ++i)
        runs.push_back(std::async(std::launch::async, [i] {
            // Allocation-heavy neighbours: the child must not trip over their malloc state.
            std::vector<std::string> noise(1000, std::string(100, 'x'));
            return run_sh("echo " + std::to_string(i) + " $$; exit " + std::to_string(i));
        }));
    for (int i = 0; i < 6; ++i) {
        auto r = runs[static_cast<std::size_t>(i)].get();
        CHECK(r.code == i);
        CHECK(r.out == std::to_string(i) + " 1\n");
    }
}

TEST_CASE("run_container leaves no descriptors, mounts or cgroups behind", "[runtime]") {
    SKIP_UNLESS_ROOT();
    auto count_fds = [] {
        int n = 0;
        for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
        return n;
    };
    run_sh("true");  // first-use statics (seccomp program, rootfs) are not leaks
    int before = count_fds();
    std::string mounts_before = kiln::read_file("/proc/self/mountinfo");
    Sandbox box({"true"});
    box.spec.id = kiln::runtime::generate_container_id();
    CHECK(run(box.spec).code == 0);
    box.spec.args = {"/missing"};
    CHECK(run(box.spec).code == 127);
    box.spec.rootfs.options = "lowerdir=/nonexistent";
    CHECK_THROWS_AS(run(box.spec), kiln::Error);
    CHECK(count_fds() == before);
    CHECK(kiln::read_file("/proc/self/mountinfo") == mounts_before);
    CHECK(cgroup_procs(box.spec.id).empty());
}

TEST_CASE("network_files provides /etc/hostname, /etc/hosts and /etc/resolv.conf", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "cat /etc/hostname; grep -c localhost /etc/hosts; grep builder /etc/hosts; "
                             "test -f /etc/resolv.conf && echo resolv"});
    box.spec.hostname = "builder";
    box.spec.network_files = true;
    auto r = run(box.spec);
    CHECK(r.code == 0);
    CHECK(r.out == "builder\n2\n127.0.1.1\tbuilder\nresolv\n");
    // Without the option the rootfs is left as it is.
    box.spec.network_files = false;
    box.spec.args = {"sh", "-c", "ls /etc/hosts 2>/dev/null; echo end"};
    kiln::remove_all(box.dir.path() + "/upper/etc");
    CHECK(run(box.spec).out == "end\n");
}

TEST_CASE("memory, pids and cpu limits are enforced through cgroups", "[runtime]") {
    SKIP_UNLESS_ROOT();
    // pid 1 plus three children exceed a limit of 3: the third fork fails.
    Sandbox pids({"sh", "-c", "sleep 0.2 & sleep 0.2 & sleep 0.2 & wait; echo done"});
    pids.spec.pids_limit = 3;
    auto r = run(pids.spec);
    CHECK(r.err.find("fork") != std::string::npos);
    pids.spec.pids_limit = 0;
    CHECK(run(pids.spec).err.empty());

    // 64 MiB of buffer in a 16 MiB container: the kernel's OOM killer ends it.
    Sandbox memory({"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
    memory.spec.memory_limit = 16 << 20;
    CHECK(run(memory.spec).code == 137);
    memory.spec.memory_limit = 0;
    CHECK(run(memory.spec).code == 0);

    Sandbox cpu({"true"});
    cpu.spec.cpus = 0.5;
    CHECK(run(cpu.spec).code == 0);
}

TEST_CASE("tty runs the container on a pseudo-terminal and relays its output", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo tty; test -c /dev/console && echo console; "
                             "read line; echo got $line; exit 5"});
    box.spec.tty = true;
    kiln::TempDir tmp("/tmp", "kiln-tty-");
    kiln::atomic_write(tmp.path() + "/in", "typed\n");
    kiln::UniqueFd in(::open((tmp.path() + "/in").c_str(), O_RDONLY | O_CLOEXEC));
    box.spec.stdin_fd = in.get();
    auto r = run(box.spec);
    CHECK(r.code == 5);
    // The terminal turns "\n" into "\r\n", and echoes the input whenever it arrives.
    CHECK(r.out.find("tty\r\n") != std::string::npos);
    CHECK(r.out.find("console\r\n") != std::string::npos);
    CHECK(r.out.find("typed\r\n") != std::string::npos);
    CHECK(r.out.ends_with("got typed\r\n"));
}

TEST_CASE("a memory limit allows as much swap again, as docker run --memory does", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"sleep", "30"});
    box.spec.id = kiln::runtime::generate_container_id();
    box.spec.memory_limit = 32 << 20;
    auto running = std::async(std::launch::async, [&] { return run(box.spec); });
    // Once the container's process is in its group, every limit has been written.
    auto listed_pids = [&] {
        std::string procs = cgroup_procs(box.spec.id);
        return procs.empty() ? procs : kiln::read_file(procs);
    };
    std::string pids;
    for (int i = 0; i < 5000 && (pids = listed_pids()).empty(); ++i) ::usleep(1000);
    REQUIRE_FALSE(pids.empty());
    const std::string v1 = "/sys/fs/cgroup/memory/kiln/" + box.spec.id, v2 = "/sys/fs/cgroup/kiln/" + box.spec.id;
    const std::string unified = "/sys/fs/cgroup/unified/kiln/" + box.spec.id;
    std::size_t checked = 0;
    // Swap accounting is a kernel option: where its file is missing there is nothing to set.
    if (kiln::path_exists(v1 + "/memory.memsw.limit_in_bytes") && ++checked)
        CHECK(kiln::read_file(v1 + "/memory.memsw.limit_in_bytes") == std::to_string(64 << 20) + "\n");
    for (const auto& dir : {v2, unified})
        if (kiln::path_exists(dir + "/memory.swap.max") && ++checked)
            CHECK(kiln::read_file(dir + "/memory.swap.max") == std::to_string(32 << 20) + "\n");
    if (!checked) WARN("no swap accounting on this host; nothing to check");
    ::kill(std::stoi(pids), SIGKILL);  // its init: the whole pid namespace goes
    CHECK(running.get().code == 137);
}

TEST_CASE("memory below Docker's 6 MB minimum is refused before anything starts", "[runtime]") {
    SKIP_UNLESS_ROOT();
    Sandbox box({"touch", "/started"});
    box.spec.memory_limit = 1;
    CHECK_THROWS_WITH(run(box.spec), "Minimum memory limit allowed is 6MB");
    CHECK_FALSE(kiln::path_exists(box.dir.path() + "/upper/started"));
}

TEST_CASE("a cgroup the container cannot join stops it before its command runs", "[runtime]") {
    SKIP_UNLESS_ROOT();
    if (!kiln::path_exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")) {
        WARN("skipped: needs a cgroup v1 cpu hierarchy with real-time group scheduling");
        return;
    }
    // A real-time caller cannot join a v1 cpu group that has no real-time budget. The
    // policy is per thread, and the container inherits it from the thread that starts it.
    auto run_realtime = [](ContainerSpec spec) {
        return std::async(std::launch::async, [spec] {
            sched_param param{};
            param.sched_priority = 1;
            if (::sched_setscheduler(0, SCHED_FIFO, &param) != 0) kiln::throw_errno("sched_setscheduler");
            return run(spec);
        }).get();
    };
    Sandbox box({"touch", "/started"});
    box.spec.cpus = 0.5;
    try {
        run_realtime(box.spec);
        FAIL("the container started");
    } catch (const kiln::Error& e) {
        CHECK(std::string(e.what()).find("/cpu/kiln/") != std::string::npos);
        CHECK(std::string(e.what()).find("real-time") != std::string::npos);
    }
    CHECK_FALSE(kiln::path_exists(box.dir.path() + "/upper/started"));
    // Without a cpu limit there is no v1 cpu group to join.
    box.spec.cpus = 0;
    CHECK(run_realtime(box.spec).code == 0);
    CHECK(kiln::path_exists(box.dir.path() + "/upper/started"));
}
