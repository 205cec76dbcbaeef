// A container may mknod any device (CAP_MKNOD, as in Docker) but may open only Docker's
// harmless defaults: the devices cgroup (v1) and the BPF device program (cgroup2) stand
// between a node it made and the host's disks, kernel log and terminals.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "harness.hpp"
#include "runtime/device_filter.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace {

constexpr std::size_t disk_size = 1 << 20;

std::string disk_pattern() {
    std::string bytes(disk_size, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>('A' + i % 23);
    return bytes;
}

// A 1 MiB file with known content on a free loop device, detached (and the file removed)
// on destruction.
class LoopDevice {
public:
    LoopDevice() {
        kiln::atomic_write(backing_.path() + "/disk", disk_pattern());
        kiln::UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
        if (!control) kiln::throw_errno("open /dev/loop-control");
        kiln::UniqueFd file(::open((backing_.path() + "/disk").c_str(), O_RDWR | O_CLOEXEC));
        if (!file) kiln::throw_errno("open the loop backing file");
        // Another process may take the free device first: ask again.
        for (int attempt = 0; attempt < 10 && !loop_; ++attempt) {
            int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
            if (n < 0) kiln::throw_errno("LOOP_CTL_GET_FREE");
            path_ = "/dev/loop" + std::to_string(n);
            kiln::UniqueFd loop(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
            if (loop && ::ioctl(loop.get(), LOOP_SET_FD, file.get()) == 0) loop_ = std::move(loop);
        }
        if (!loop_) kiln::throw_errno("attach a loop device");
        struct stat st;
        if (::fstat(loop_.get(), &st) != 0) kiln::throw_errno("stat " + path_);
        major_ = ::major(st.st_rdev);
        minor_ = ::minor(st.st_rdev);
    }
    ~LoopDevice() { detach(); }
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;

    // Writes what reached the device through to the backing file, then detaches (a
    // detaching device drops its dirty cache: the fsync must come first).
    void detach() {
        if (!loop_) return;
        ::fsync(loop_.get());
        ::ioctl(loop_.get(), LOOP_CLR_FD, 0);
        loop_.reset();
    }
    std::string content() const { return kiln::read_file(backing_.path() + "/disk"); }
    const std::string& path() const { return path_; }
    std::string numbers() const { return std::to_string(major_) + " " + std::to_string(minor_); }
    unsigned major() const { return major_; }
    unsigned minor() const { return minor_; }

private:
    kiln::TempDir backing_{"/tmp", "kiln-loop-"};
    std::string path_;
    kiln::UniqueFd loop_;
    unsigned major_ = 0, minor_ = 0;
};

// The cgroup2 hierarchy: /sys/fs/cgroup on a pure v2 host, .../unified on a hybrid one.
std::string cgroup2_root() {
    if (kiln::path_exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup";
    if (kiln::path_exists("/sys/fs/cgroup/unified/cgroup.procs")) return "/sys/fs/cgroup/unified";
    return "";
}

// A scratch cgroup2 group outside kiln's subtree, removed on destruction.
class ScratchCgroup {
public:
    explicit ScratchCgroup(const std::string& root)
        : path_(root + "/kiln-devices-test-" + std::to_string(::getpid())) {
        if (::mkdir(path_.c_str(), 0755) != 0) kiln::throw_errno("create " + path_);
        fd_.reset(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd_) kiln::throw_errno("open " + path_);
    }
    ~ScratchCgroup() { ::rmdir(path_.c_str()); }
    ScratchCgroup(const ScratchCgroup&) = delete;
    ScratchCgroup& operator=(const ScratchCgroup&) = delete;
    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    kiln::UniqueFd fd_;
};

// Opens `path` with `flags` from a process inside the group (and only there: the test
// process stays where it is). Returns 0 or the errno of the open.
int open_errno_in_cgroup(const ScratchCgroup& group, const std::string& path, int flags) {
    const std::string procs = group.path() + "/cgroup.procs";
    pid_t pid = ::fork();
    if (pid < 0) kiln::throw_errno("fork");
    if (pid == 0) {
        int procs_fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (procs_fd < 0 || ::write(procs_fd, "0", 1) != 1) ::_exit(255);
        int fd = ::open(path.c_str(), flags | O_CLOEXEC);
        ::_exit(fd >= 0 ? 0 : errno);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 255);
    return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("a container cannot write a host disk or the kernel log through nodes it mknods", "[devices]") {
    SKIP_UNLESS_ROOT();
    kiln::test::Kiln kiln;
    kiln::test::import_base(kiln);
    LoopDevice disk;
    auto r = kiln({"run", "--rm", "localhost/busybox", "sh", "-c",
                   "mknod /tmp/disk b " + disk.numbers() + " && echo made;"
                   "dd if=/dev/zero of=/tmp/disk bs=4k count=1 conv=notrunc 2>/tmp/err; echo write=$?;"
                   "grep -c 'Operation not permitted' /tmp/err;"
                   "dd if=/tmp/disk bs=4k count=1 2>/tmp/err | wc -c;"
                   "grep -c 'Operation not permitted' /tmp/err;"
                   // Writing the kernel log needs no capability, only the node.
                   "mknod /tmp/kmsg c 1 11 && (echo 'kiln devices test: a container wrote this' > /tmp/kmsg)"
                   " 2>/tmp/err; echo kmsg=$?;"
                   "grep -c 'Operation not permitted' /tmp/err"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "made\nwrite=1\n1\n0\n1\nkmsg=1\n1\n");
    disk.detach();
    const bool disk_unchanged = disk.content() == disk_pattern();  // not printed: 1 MiB
    CHECK(disk_unchanged);
}

TEST_CASE("Docker's default devices still work in a container", "[devices]") {
    SKIP_UNLESS_ROOT();
    kiln::test::Kiln kiln;
    kiln::test::import_base(kiln);
    auto r = kiln({"run", "--rm", "localhost/busybox", "sh", "-c",
                   "echo x > /dev/null && head -c 8 /dev/zero | wc -c && head -c 8 /dev/urandom | wc -c &&"
                   "head -c 8 /dev/random | wc -c && head -c 8 /dev/full | wc -c &&"
                   "exec 3<>/dev/ptmx && echo ptmx &&"
                   "mknod /tmp/n c 1 3 && echo x > /tmp/n && echo own-null"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == "8\n8\n8\n8\nptmx\nown-null\n");
}

TEST_CASE("the BPF device filter alone enforces the policy on a cgroup2 group", "[devices]") {
    SKIP_UNLESS_ROOT();
    // On a hybrid host the v1 devices controller would hide a broken BPF program inside a
    // container; here a plain process in a scratch cgroup2 group has only the program.
    const std::string root = cgroup2_root();
    if (root.empty()) {
        WARN("skipped: no cgroup2 hierarchy");
        return;
    }
    LoopDevice disk;
    using kiln::runtime::DevicePolicy;
    {
        ScratchCgroup group(root);
        kiln::runtime::DeviceFilter(DevicePolicy::docker_default()).attach(group.fd());
        CHECK(open_errno_in_cgroup(group, disk.path(), O_RDONLY) == EPERM);
        CHECK(open_errno_in_cgroup(group, disk.path(), O_RDWR) == EPERM);
        CHECK(open_errno_in_cgroup(group, "/dev/kmsg", O_RDONLY) == EPERM);
        CHECK(open_errno_in_cgroup(group, "/dev/null", O_RDWR) == 0);
        CHECK(open_errno_in_cgroup(group, "/dev/urandom", O_RDONLY) == 0);
    }
    {
        // A read-only grant of this one disk, as a --device-cgroup-rule would add.
        ScratchCgroup group(root);
        auto policy = DevicePolicy::docker_default();
        policy.add("b " + std::to_string(disk.major()) + ":" + std::to_string(disk.minor()) + " r");
        kiln::runtime::DeviceFilter(policy).attach(group.fd());
        CHECK(open_errno_in_cgroup(group, disk.path(), O_RDONLY) == 0);
        CHECK(open_errno_in_cgroup(group, disk.path(), O_RDWR) == EPERM);
    }
    // Outside the group nothing changed.
    CHECK(kiln::UniqueFd(::open(disk.path().c_str(), O_RDONLY | O_CLOEXEC)));
}
