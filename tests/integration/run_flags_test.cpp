// `run`/`create` flags that shape the container's process and mounts, each checked from
// inside a container (and through exec where Docker applies it there too): --env-file,
// --cap-add/--cap-drop, --read-only, --tmpfs, --shm-size, --ulimit, --device, --init,
// --cidfile. Restart policies are in restart_test.cpp.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

using kiln::test::sh;

std::string inspect(const Kiln& kiln, const std::string& name, const std::string& format) {
    return trimmed(kiln({"inspect", "-f", format, name}).out);
}

// `inspect -f format` of a container created (not started) with flags.
std::string inspect_created(const Kiln& kiln, std::vector<std::string> flags, const std::string& format) {
    std::vector<std::string> args = {"create"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"localhost/busybox", "true"});
    return inspect(kiln, trimmed(kiln(args).out), format);
}

// A line of the test process's own /proc/self/status ("CapPrm:\t...").
std::string own_status(const std::string& key) {
    auto status = kiln::read_file("/proc/self/status");
    auto at = status.find(key + ":\t");
    return status.substr(at + key.size() + 2, status.find('\n', at) - at - key.size() - 2);
}

}  // namespace

TEST_CASE("run --env-file reads docker's format, -e wins over it, a bad line names file:line", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir dir("/tmp", "kiln-it-envfile-");
    const std::string file = dir.path() + "/vars";
    ::setenv("KILN_IT_PASSED", "from-caller", 1);
    ::unsetenv("KILN_IT_UNSET");
    kiln::atomic_write(file, "# comment\n\n  A=1\nB=two words \nC=\"quoted\"\nKILN_IT_PASSED\nKILN_IT_UNSET\nD=x=y\n");
    auto r = sh(kiln, {"--env-file", file, "-e", "D=override"},
                "echo \"$A|$B|$C|$KILN_IT_PASSED|${KILN_IT_UNSET-unset}|$D\"");
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "1|two words |\"quoted\"|from-caller|unset|override\n");
    CHECK(trimmed(sh(kiln, {"--env-file", file}, "echo $D").out) == "x=y");

    kiln::atomic_write(file, "A=1\n\nBAD KEY=2\n");
    auto bad = sh(kiln, {"--env-file", file}, "true");
    CHECK(bad.exit_code == 125);
    CHECK(bad.err == "kiln: " + file + ":3: variable 'BAD KEY' contains whitespaces\n");
    auto missing = sh(kiln, {"--env-file", dir.path() + "/none"}, "true");
    CHECK(missing.exit_code == 125);
    CHECK(kiln({"ps", "-aq"}).out.empty());
}

TEST_CASE("run --cap-drop and --cap-add change the container's capabilities, for exec too", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    // Docker's default set is 00000000a80425fb; CHOWN is bit 0.
    auto dropped = sh(kiln, {"--cap-drop", "chown"}, "grep CapEff /proc/self/status; chown 1 /tmp && echo chowned");
    CHECK(dropped.out == "CapEff:\t00000000a80425fa\n");
    CHECK(dropped.err.find("Operation not permitted") != std::string::npos);
    CHECK(sh(kiln, {}, "chown 1 /tmp && echo chowned").out == "chowned\n");

    // NET_ADMIN (bit 12) lets it take its loopback down; the default set does not.
    CHECK(sh(kiln, {}, "ifconfig lo down").exit_code != 0);
    auto added = sh(kiln, {"--cap-add", "CAP_NET_ADMIN"}, "grep CapEff /proc/self/status; ifconfig lo down && echo down");
    CHECK(added.out == "CapEff:\t00000000a80435fb\ndown\n");

    // ALL is every capability kiln holds (here: not CAP_SYS_RESOURCE, which it lacks).
    CHECK(trimmed(sh(kiln, {"--cap-add", "all"}, "grep CapEff /proc/self/status").out) == "CapEff:\t" + own_status("CapPrm"));
    CHECK(trimmed(sh(kiln, {"--cap-drop", "ALL", "--cap-add", "kill"}, "grep CapEff /proc/self/status").out) ==
          "CapEff:\t0000000000000020");

    auto unknown = sh(kiln, {"--cap-add", "NOT_A_CAP"}, "true");
    CHECK(unknown.exit_code == 125);
    CHECK(unknown.err == "kiln: invalid --cap-add: unknown capability: \"CAP_NOT_A_CAP\"\n");

    // exec gets the container's set, as Docker's does.
    auto run = kiln({"run", "-d", "--name", "capped", "--cap-drop", "CHOWN", "localhost/busybox", "sleep", "1000"});
    REQUIRE(run.exit_code == 0);
    CHECK(kiln({"exec", "capped", "grep", "CapEff", "/proc/self/status"}).out == "CapEff:\t00000000a80425fa\n");
    CHECK(kiln({"exec", "capped", "chown", "1", "/tmp"}).exit_code != 0);
    CHECK(inspect(kiln, "capped", "{{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}}") == "[\"CAP_CHOWN\"] null");
    CHECK(kiln({"rm", "-f", "capped"}).exit_code == 0);
}

TEST_CASE("run --read-only keeps /dev, /proc, /dev/shm, volumes and --tmpfs writable", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir volume("/tmp", "kiln-it-rovol-");
    auto r = sh(kiln, {"--read-only", "-v", volume.path() + ":/vol", "--tmpfs", "/run"},
                "touch /new 2>/dev/null && echo root-writable; touch /tmp/x 2>/dev/null && echo tmp-writable; "
                "touch /dev/shm/a /vol/b /run/c && echo others-writable; echo 1 > /proc/self/comm && echo proc; "
                "grep ' / ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1");
    INFO(r.err);
    CHECK(r.out == "others-writable\nproc\nro\n");
    CHECK(kiln::path_exists(volume.path() + "/b"));
    CHECK(trimmed(sh(kiln, {}, "touch /new && echo root-writable").out) == "root-writable");
    CHECK(inspect_created(kiln, {"--read-only"}, "{{.HostConfig.ReadonlyRootfs}}") == "true");
}

TEST_CASE("run --tmpfs mounts with Docker's defaults and the options given", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    // Defaults: rw, noexec, nosuid, nodev, the kernel's mode 1777.
    auto plain = sh(kiln, {"--tmpfs", "/scratch"},
                    "grep ' /scratch ' /proc/mounts | cut -d' ' -f4; stat -c %a /scratch; "
                    "cp /bin/busybox /scratch/echo && /scratch/echo ran");
    CHECK(plain.out == "rw,nosuid,nodev,noexec,relatime\n1777\n");
    auto given = sh(kiln, {"--tmpfs", "/scratch:exec,size=4m,mode=700"},
                    "grep ' /scratch ' /proc/mounts | cut -d' ' -f4; stat -c %a /scratch; "
                    "cp /bin/busybox /scratch/echo && /scratch/echo ran; df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2");
    CHECK(given.out == "rw,nosuid,nodev,relatime,size=4096k,mode=700\n700\nran\n4096\n");
    CHECK(sh(kiln, {"--tmpfs", "/x:size=1m,bogus"}, "true").exit_code == 125);
    CHECK(sh(kiln, {"--tmpfs", "relative"}, "true").exit_code == 125);
    CHECK(inspect_created(kiln, {"--tmpfs", "/run:size=1m"}, "{{json .HostConfig.Tmpfs}}") == "{\"/run\":\"size=1m\"}");
}

TEST_CASE("run --shm-size sets /dev/shm's size, 64m by default as in Docker", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string size = "df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2";
    CHECK(trimmed(sh(kiln, {}, size).out) == "65536");
    CHECK(trimmed(sh(kiln, {"--shm-size", "8m"}, size).out) == "8192");
    // More than the size does not fit.
    CHECK(sh(kiln, {"--shm-size", "1m"}, "head -c 2000000 /dev/zero > /dev/shm/big").exit_code != 0);
    CHECK(sh(kiln, {"--shm-size", "0"}, "true").exit_code == 125);
    CHECK(sh(kiln, {"--shm-size", "lots"}, "true").exit_code == 125);
    CHECK(inspect_created(kiln, {"--shm-size", "8m"}, "{{.HostConfig.ShmSize}}") == "8388608");
}

TEST_CASE("run --ulimit sets the container's limits, for exec too, above kiln's own hard limit is an error", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto r = sh(kiln, {"--ulimit", "nofile=100:200", "--ulimit", "core=0", "--ulimit", "nproc=50"},
                "ulimit -n; ulimit -Hn; ulimit -c; ulimit -u");
    CHECK(r.out == "100\n200\n0\n50\n");
    // Bites: with 0, 1 and 2 open, a limit of 3 leaves cat no descriptor for its file.
    auto three = kiln({"run", "--rm", "--ulimit", "nofile=3", "localhost/busybox", "cat", "/etc/hostname"});
    CHECK(three.exit_code == 1);
    CHECK(three.err.find("Too many open files") != std::string::npos);
    CHECK(kiln({"run", "--rm", "--ulimit", "nofile=4", "localhost/busybox", "cat", "/etc/hostname"}).exit_code == 0);

    rlimit own{};
    ::getrlimit(RLIMIT_NOFILE, &own);
    auto above = sh(kiln, {"--ulimit", "nofile=10:" + std::to_string(own.rlim_max + 1)}, "true");
    CHECK(above.exit_code == 125);
    CHECK(above.err.find("above kiln's own") != std::string::npos);
    CHECK(sh(kiln, {"--ulimit", "nofiles=1"}, "true").err == "kiln: invalid ulimit type: nofiles\n");
    CHECK(sh(kiln, {"--ulimit", "nofile=20:10"}, "true").exit_code == 125);
    CHECK(kiln({"ps", "-aq"}).out.empty());

    REQUIRE(kiln({"run", "-d", "--name", "limited", "--ulimit", "nofile=64:128", "localhost/busybox", "sleep", "1000"})
                .exit_code == 0);
    CHECK(kiln({"exec", "limited", "sh", "-c", "ulimit -n; ulimit -Hn"}).out == "64\n128\n");
    CHECK(inspect(kiln, "limited", "{{json .HostConfig.Ulimits}}") == "[{\"Name\":\"nofile\",\"Hard\":128,\"Soft\":64}]");
    CHECK(kiln({"rm", "-f", "limited"}).exit_code == 0);
}

TEST_CASE("run --device makes a host device usable in the container with its permissions, others stay refused",
          "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto r = sh(kiln, {"--device", "/dev/zero:/dev/mydev"},
                "stat -c '%t:%T %F' /dev/mydev; head -c 3 /dev/mydev | od -An -tx1");
    INFO(r.err);
    CHECK(r.out == "1:5 character special file\n 00 00 00\n");
    // /dev/kmsg (1:11) is outside Docker's default list: writable only with a w grant.
    // (Writing a line to the kernel log needs no capability.)
    auto ro = sh(kiln, {"--device", "/dev/kmsg:/dev/mykmsg:r"}, "echo kiln-integration-test > /dev/mykmsg");
    CHECK(ro.exit_code != 0);
    CHECK(ro.err.find("Operation not permitted") != std::string::npos);
    auto rw = sh(kiln, {"--device", "/dev/kmsg:/dev/mykmsg:w"}, "echo kiln-integration-test > /dev/mykmsg && echo wrote");
    INFO(rw.err);
    CHECK(rw.out == "wrote\n");
    // A device that was not granted: the node can be made but not opened.
    auto other = sh(kiln, {"--device", "/dev/zero:/dev/mydev"}, "mknod /dev/mem2 c 1 1 && head -c 1 /dev/mem2");
    CHECK(other.exit_code != 0);
    CHECK(other.err.find("Operation not permitted") != std::string::npos);

    CHECK(sh(kiln, {"--device", "/dev/none-such"}, "true").exit_code == 125);
    CHECK(sh(kiln, {"--device", "/etc/passwd"}, "true").exit_code == 125);
    CHECK(sh(kiln, {"--device", "/dev/zero:/dev/z:rwx"}, "true").err == "kiln: invalid device mode: rwx\n");
    CHECK(inspect_created(kiln, {"--device", "/dev/zero:/dev/mydev:r"}, "{{json .HostConfig.Devices}}") ==
          "[{\"PathOnHost\":\"/dev/zero\",\"PathInContainer\":\"/dev/mydev\",\"CgroupPermissions\":\"r\"}]");
}

TEST_CASE("run --init reaps orphaned zombies and passes stop's signal to the command", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto zombies = [&](const std::string& name) { return kiln({"exec", name, "sh", "-c", "ps -o stat | grep -c Z"}).out; };
    // Without an init, `sleep` is pid 1: an orphan re-parented to it stays a zombie.
    REQUIRE(kiln({"run", "-d", "--name", "plain", "localhost/busybox", "sleep", "1000"}).exit_code == 0);
    REQUIRE(kiln({"exec", "-d", "plain", "true"}).exit_code == 0);
    CHECK(soon([&] { return zombies("plain") == "1\n"; }));

    REQUIRE(kiln({"run", "-d", "--init", "--name", "inited", "localhost/busybox", "sleep", "1000"}).exit_code == 0);
    CHECK(trimmed(kiln({"exec", "inited", "cat", "/proc/1/comm"}).out) == "docker-init");
    REQUIRE(kiln({"exec", "-d", "inited", "true"}).exit_code == 0);
    REQUIRE(kiln({"exec", "-d", "inited", "true"}).exit_code == 0);
    const bool reaped = soon([&] { return zombies("inited") == "0\n"; });
    // Which process stayed a zombie, and whose child it is, when one did.
    INFO(kiln({"exec", "inited", "ps", "-o", "pid,ppid,stat,comm"}).out);
    CHECK(reaped);
    // The init is read-only and not kiln: the container cannot rewrite its pid 1.
    CHECK(kiln({"exec", "inited", "sh", "-c", "echo x >> /proc/1/exe"}).exit_code != 0);

    // SIGTERM reaches sleep through the init (sleep as pid 1 would ignore it and stop
    // would end with SIGKILL's 137 after the timeout).
    CHECK(kiln({"stop", "-t", "60", "inited"}).exit_code == 0);
    CHECK(inspect(kiln, "inited", "{{.State.ExitCode}} {{.HostConfig.Init}}") == "143 true");
    CHECK(kiln({"stop", "-t", "1", "plain"}).exit_code == 0);
    CHECK(inspect(kiln, "plain", "{{.State.ExitCode}}") == "137");

    // The command's status is the container's.
    CHECK(sh(kiln, {"--init"}, "exit 3").exit_code == 3);
    CHECK(sh(kiln, {"--init"}, "cat /proc/1/comm").out == "docker-init\n");
    CHECK(kiln({"run", "--rm", "--init", "localhost/busybox", "nosuchcommand"}).exit_code == 127);
}

TEST_CASE("run --cidfile writes the full id and refuses an existing file", "[lifecycle]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir dir("/tmp", "kiln-it-cid-");
    const std::string file = dir.path() + "/cid";
    auto run = kiln({"run", "-d", "--cidfile", file, "localhost/busybox", "sleep", "1000"});
    REQUIRE(run.exit_code == 0);
    CHECK(kiln::read_file(file) == trimmed(run.out));

    auto again = kiln({"run", "-d", "--cidfile", file, "localhost/busybox", "true"});
    CHECK(again.exit_code == 125);
    CHECK(again.err == "kiln: Container ID file found, make sure the other container isn't running or delete " + file + "\n");
    CHECK(kiln::read_file(file) == trimmed(run.out));
    CHECK(kiln({"rm", "-f", trimmed(run.out)}).exit_code == 0);

    // create and a foreground run write it too; a failed one leaves none.
    const std::string created = dir.path() + "/created";
    auto id = trimmed(kiln({"create", "--cidfile", created, "localhost/busybox", "true"}).out);
    CHECK(kiln::read_file(created) == id);
    CHECK(kiln({"run", "--cidfile", dir.path() + "/fg", "localhost/busybox", "true"}).exit_code == 0);
    CHECK(kiln::read_file(dir.path() + "/fg").size() == 64);
    CHECK(kiln({"run", "--cidfile", dir.path() + "/failed", "localhost/nope", "true"}).exit_code == 125);
    CHECK(!kiln::path_exists(dir.path() + "/failed"));
}
