// Mount propagation of -v binds (issue #11 item 4), tested against the kernel: a bind
// marked rslave sees what the host mounts in its source later, one marked rshared shows
// the host what the container mounts there, and the default (rprivate) does neither.
// Keeping the host's peers must not leak anything else: the container's rootfs stays out
// of the host's mount table, and the container's exit unmounts nothing on the host.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/stat.h>

#include <string>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::trimmed;

// dir made a mount of its own with the given propagation, unmounted (with what is under
// it) at the end.
class OwnMount {
public:
    OwnMount(const std::string& dir, unsigned long propagation) : dir_(dir) {
        REQUIRE(::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) == 0);
        REQUIRE(::mount(nullptr, dir.c_str(), nullptr, propagation, nullptr) == 0);
    }
    ~OwnMount() { ::umount2(dir_.c_str(), MNT_DETACH); }
    OwnMount(const OwnMount&) = delete;
    OwnMount& operator=(const OwnMount&) = delete;

private:
    std::string dir_;
};

// A host directory on a shared mount of its own, with an empty subdirectory to mount on.
struct SharedSource {
    kiln::TempDir host{"/tmp", "kiln-it-prop-"};
    OwnMount own{host.path(), MS_SHARED};
    std::string sub = host.path() + "/sub";
    SharedSource() { REQUIRE(::mkdir(sub.c_str(), 0755) == 0); }
};

bool host_mounts(const std::string& path) {
    return kiln::read_file("/proc/self/mountinfo").find(" " + path + " ") != std::string::npos;
}

}  // namespace

TEST_CASE("run -v rslave sees what the host mounts in the source later, the default rprivate does not",
          "[volumes][propagation]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    SharedSource source;
    const auto& host = source.host;

    const auto slave = trimmed(
        kiln({"run", "-d", "-v", host.path() + ":/p:rslave", "localhost/busybox", "sleep", "60"}).out);
    const auto isolated = trimmed(kiln({"run", "-d", "-v", host.path() + ":/p", "localhost/busybox", "sleep", "60"}).out);
    REQUIRE(slave.size() == 64);
    REQUIRE(isolated.size() == 64);
    // The container's own mounts never show on the host, peers kept or not.
    CHECK_FALSE(kiln::read_file("/proc/self/mountinfo").find(slave) != std::string::npos);

    const std::string& sub = source.sub;
    REQUIRE(::mount("tmpfs", sub.c_str(), "tmpfs", 0, "size=1m") == 0);
    kiln::atomic_write(sub + "/late", "mounted after start\n");
    CHECK(kiln({"exec", slave, "cat", "/p/sub/late"}).out == "mounted after start\n");
    auto unseen = kiln({"exec", isolated, "cat", "/p/sub/late"});
    CHECK(unseen.exit_code != 0);
    CHECK(kiln({"inspect", "-f", "{{range .Mounts}}{{.Propagation}}{{end}}", slave}).out == "rslave\n");
    ::umount2(sub.c_str(), MNT_DETACH);

    CHECK(kiln({"rm", "-f", slave, isolated}).exit_code == 0);
    CHECK(kiln::test::host_traces_gone(slave));
    CHECK(kiln::test::host_traces_gone(isolated));
    CHECK(host_mounts(host.path()));  // the containers' exits unmounted nothing of the host's
}

TEST_CASE("run -v rshared shows the host what the container mounts, and nothing of the container's own",
          "[volumes][propagation]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    SharedSource source;
    const auto& host = source.host;

    const auto id = trimmed(kiln({"run", "-d", "--cap-add", "SYS_ADMIN", "-v", host.path() + ":/p:rshared",
                                  "localhost/busybox", "sleep", "60"})
                                .out);
    REQUIRE(id.size() == 64);
    CHECK(kiln::read_file("/proc/self/mountinfo").find(id) == std::string::npos);
    auto mounted = kiln({"exec", id, "sh", "-c", "mount -t tmpfs -o size=1m none /p/sub && echo inside > /p/sub/f"});
    INFO(mounted.err);
    REQUIRE(mounted.exit_code == 0);
    CHECK(kiln::read_file(host.path() + "/sub/f") == "inside\n");

    CHECK(kiln({"rm", "-f", id}).exit_code == 0);
    CHECK(kiln::test::host_traces_gone(id));
    // The propagated mount is the host's now, as under Docker; the source stays mounted.
    CHECK(host_mounts(host.path() + "/sub"));
    CHECK(host_mounts(host.path()));
    ::umount2((host.path() + "/sub").c_str(), MNT_DETACH);
}

TEST_CASE("run -v shared or slave on a private mount is refused before the container starts, as Docker does",
          "[volumes][propagation]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir host("/tmp", "kiln-it-prop-");
    OwnMount own(host.path(), MS_PRIVATE);
    auto shared = kiln({"run", "--rm", "-v", host.path() + ":/p:shared", "localhost/busybox", "true"});
    CHECK(shared.exit_code == 125);
    CHECK(shared.err.find("path " + host.path() + " is mounted on " + host.path() + " but it is not a shared mount") !=
          std::string::npos);
    auto slave = kiln({"run", "--rm", "-v", host.path() + ":/p:slave", "localhost/busybox", "true"});
    CHECK(slave.exit_code == 125);
    CHECK(slave.err.find("but it is not a shared or slave mount") != std::string::npos);
    CHECK(kiln({"ps", "-aq"}).out.empty());
}
