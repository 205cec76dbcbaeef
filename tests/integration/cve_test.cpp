// Two container escapes replayed against kiln, each the way its exploit went:
//  - CVE-2019-5736 (runc): an image makes kiln's own binary run inside the container
//    (/bin/sh is "#!/proc/self/exe", so `kiln exec C /bin/sh` executes whatever binary did
//    the execve), while a container process grabs /proc/PID/exe of every process it can
//    see and reopens it for writing through /proc/self/fd once that process is gone;
//  - CVE-2022-0492: a container mounts a cgroup v1 hierarchy of its own (rdma, memory),
//    with `unshare -UrmC` first as the exploit did, to write a release_agent the kernel
//    runs as root on the host.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"
#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::inspect_value;
using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

// "DEV:INO" of a host file, as fstat shows it inside a container (no user namespace).
std::string dev_ino(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// The host's dynamic loader and the libraries the kiln binary needs, copied to the same
// paths under dir: an image from anywhere can carry them (any glibc-based image does), and
// with them kiln's binary runs once it is executed inside the container.
void copy_kiln_libraries(const std::string& dir) {
    auto ldd = kiln::test::run_command({"ldd", KILN_BINARY});
    REQUIRE(ldd.exit_code == 0);
    std::size_t copied = 0;
    for (std::size_t pos = 0, nl; (nl = ldd.out.find('\n', pos)) != std::string::npos; pos = nl + 1) {
        std::string line = ldd.out.substr(pos, nl - pos);
        auto slash = line.find('/');
        if (slash == std::string::npos) continue;
        std::string lib = line.substr(slash, line.find(' ', slash) - slash);
        std::filesystem::create_directories(dir + std::filesystem::path(lib).parent_path().string());
        std::filesystem::copy_file(lib, dir + lib, std::filesystem::copy_options::overwrite_existing);
        ++copied;
    }
    REQUIRE(copied > 2);
}

}  // namespace

TEST_CASE("a container can never open kiln's binary for writing (CVE-2019-5736)", "[cve]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    kiln::TempDir context("/tmp", "kiln-it-5736-");
    copy_kiln_libraries(context.path() + "/libs");
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM localhost/probe\nCOPY libs/ /\n"
                       "RUN rm /bin/sh && echo '#!/proc/self/exe' > /bin/sh && chmod 755 /bin/sh\n");
    auto built = kiln({"build", "-q", "-t", "localhost/evil", context.path()});
    INFO(built.err);
    REQUIRE(built.exit_code == 0);

    const std::string kiln_binary = KILN_BINARY;
    const std::string monitor_binary = std::filesystem::path(kiln_binary).parent_path().string() + "/kiln-monitor";
    const auto kiln_before = kiln::sha256_of_file(kiln_binary);
    const auto monitor_before = kiln::sha256_of_file(monitor_binary);
    auto victim = kiln({"run", "-d", "--name", "victim", "localhost/evil", "kiln-probe", "hunt-exe",
                        dev_ino(kiln_binary) + "," + dev_ino(monitor_binary), "4"});
    INFO(victim.err);
    REQUIRE(victim.exit_code == 0);
    // Each exec runs whatever binary does its execve: kiln's, unless kiln prevents it.
    for (int i = 0; i < 10; ++i) {
        try {
            auto shell = kiln({"exec", "victim", "/bin/sh"});
            auto direct = kiln({"exec", "victim", "/proc/self/exe", "version"});
            INFO(shell.err << direct.err);
            CHECK(direct.out.find("kiln") == std::string::npos);
        } catch (const kiln::Error& e) {
            // ETXTBSY: the container holds kiln's binary open for writing.
            FAIL_CHECK("kiln could not even start: " << e.what());
            break;
        }
    }
    ::sleep(5);  // the probe's time is up: kiln's binary is nobody's to hold any more
    REQUIRE(soon([&] { return inspect_value(kiln, "victim", "{{.State.Status}}") == "exited"; }, 15000));
    auto logs = kiln({"logs", "victim"});
    INFO(logs.out << logs.err);
    CHECK(logs.out.find("writable 0\n") != std::string::npos);
    CHECK(logs.out.find("seen ") != std::string::npos);
    CHECK(kiln::sha256_of_file(kiln_binary) == kiln_before);
    CHECK(kiln::sha256_of_file(monitor_binary) == monitor_before);
    CHECK(kiln({"rm", "victim"}).exit_code == 0);
}

TEST_CASE("no cgroupfs with a writable release_agent is reachable from a container (CVE-2022-0492)", "[cve]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    // Every release_agent the container can see, and whether a write to it gets through.
    const std::string scan =
        "for f in $(find / -xdev -name release_agent 2>/dev/null) $(find /sys/fs/cgroup /mnt -name release_agent "
        "2>/dev/null); do if echo /pwn > $f 2>/dev/null; then echo WROTE $f; else echo refused $f; fi; done; ";
    const std::string mounts = "mkdir -p /mnt/a /mnt/b; "
                               "mount -t cgroup -o rdma cgroup /mnt/a && echo MOUNTED rdma; "
                               "mount -t cgroup -o memory cgroup /mnt/b && echo MOUNTED memory; ";
    auto plain = kiln({"run", "--rm", "localhost/busybox", "sh", "-c",
                       mounts + scan + "unshare -UrmC sh -c 'mount -t cgroup -o rdma cgroup /mnt/a && echo MOUNTED "
                                       "userns' 2>&1; echo end"});
    INFO(plain.out << plain.err);
    CHECK(plain.exit_code == 0);
    CHECK(plain.out.find("MOUNTED") == std::string::npos);
    CHECK(plain.out.find("WROTE") == std::string::npos);
    CHECK(plain.out.ends_with("end\n"));

    // With CAP_SYS_ADMIN (and no AppArmor, which Docker relies on here) the mount
    // succeeds for a hierarchy that exists; the container's cgroup namespace roots it at
    // the container's own group, which has no release_agent, and a new hierarchy (rdma)
    // cannot be made outside the host's cgroup namespace.
    auto admin = kiln({"run", "--rm", "--cap-add", "SYS_ADMIN", "localhost/busybox", "sh", "-c", mounts + scan + "echo end"});
    INFO(admin.out << admin.err);
    CHECK(admin.exit_code == 0);
    CHECK(admin.out.find("MOUNTED rdma") == std::string::npos);
    CHECK(admin.out.find("WROTE") == std::string::npos);
    CHECK(admin.out.ends_with("end\n"));
}
