// kiln cp: docker cp's path rules both ways, tar streams with "-", running and stopped
// containers, and the container's symlinks never leading to the host (CVE-2018-15664).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

// A running container "box" holding /data/a, /data/sub/b and /data/link -> /data/a.
void start_data_container(const Kiln& kiln) {
    kiln::test::import_base(kiln);
    auto run = kiln({"run", "-d", "--name", "box", "localhost/busybox", "sh", "-c",
                     "mkdir -p /data/sub; echo one > /data/a; echo two > /data/sub/b; ln -s /data/a /data/link; "
                     "touch /ready; while :; do sleep 0.1; done"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    REQUIRE(soon([&] { return kiln({"exec", "box", "test", "-e", "/ready"}).exit_code == 0; }));
}

std::string in_container(const Kiln& kiln, const std::string& script) {
    return kiln({"exec", "box", "sh", "-c", script}).out;
}

}  // namespace

TEST_CASE("cp out of a container follows docker's path rules", "[cp]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    start_data_container(kiln);
    kiln::TempDir host("/tmp", "kiln-cp-out-");
    const std::string h = host.path();

    REQUIRE(kiln({"cp", "box:/data/a", h + "/"}).exit_code == 0);
    CHECK(kiln::read_file(h + "/a") == "one\n");
    REQUIRE(kiln({"cp", "box:/data/a", h + "/renamed"}).exit_code == 0);
    CHECK(kiln::read_file(h + "/renamed") == "one\n");
    REQUIRE(kiln({"cp", "box:data/sub/b", h + "/renamed"}).exit_code == 0);  // over an existing file
    CHECK(kiln::read_file(h + "/renamed") == "two\n");

    // A directory into an existing one keeps its name; to a new name it takes that name;
    // "dir/." copies its contents.
    REQUIRE(kiln({"cp", "box:/data", h}).exit_code == 0);
    CHECK(kiln::read_file(h + "/data/sub/b") == "two\n");
    REQUIRE(kiln({"cp", "box:/data", h + "/copy"}).exit_code == 0);
    CHECK(kiln::read_file(h + "/copy/a") == "one\n");
    kiln::mkdir_p(h + "/into");
    REQUIRE(kiln({"cp", "box:/data/.", h + "/into"}).exit_code == 0);
    CHECK(kiln::read_file(h + "/into/sub/b") == "two\n");
    CHECK_FALSE(kiln::path_exists(h + "/into/data"));

    // A symlink is copied as a link; -L copies what it points to.
    REQUIRE(kiln({"cp", "box:/data/link", h + "/l"}).exit_code == 0);
    struct stat st;
    REQUIRE(::lstat((h + "/l").c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    REQUIRE(kiln({"cp", "-L", "box:/data/link", h + "/followed"}).exit_code == 0);
    REQUIRE(::lstat((h + "/followed").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(kiln::read_file(h + "/followed") == "one\n");

    auto missing = kiln({"cp", "box:/nope", h});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err == "Error: Could not find the file /nope in container box\n");
    auto missing_parent = kiln({"cp", "box:/nope/deeper", h});
    CHECK(missing_parent.exit_code == 1);
    CHECK(missing_parent.err == "Error: Could not find the file /nope/deeper in container box\n");
    auto dir_to_file = kiln({"cp", "box:/data", h + "/a"});
    CHECK(dir_to_file.exit_code == 1);
    CHECK(dir_to_file.err.find("cannot copy directory") != std::string::npos);
    auto file_to_missing_dir = kiln({"cp", "box:/data/a", h + "/absent/"});
    CHECK(file_to_missing_dir.exit_code == 1);
    CHECK_FALSE(kiln::path_exists(h + "/absent"));
    auto no_such = kiln({"cp", "nobody:/data/a", h});
    CHECK(no_such.exit_code == 1);
    CHECK(no_such.err == "Error: No such container: nobody\n");
    auto two_local = kiln({"cp", h + "/a", h + "/b"});
    CHECK(two_local.exit_code == 1);
    CHECK(two_local.err == "Error: must specify at least one container source\n");
    CHECK(kiln({"cp", "box:/data/a", "box:/tmp"}).err == "Error: copying between containers is not supported\n");
    kiln({"rm", "-f", "box"});
}

TEST_CASE("cp into a container: root owns the copies unless -a, docker's destination rules", "[cp]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    start_data_container(kiln);
    kiln::TempDir host("/tmp", "kiln-cp-in-");
    const std::string h = host.path();
    kiln::atomic_write(h + "/f", "file\n");
    REQUIRE(::chown((h + "/f").c_str(), 1234, 2345) == 0);
    kiln::mkdir_p(h + "/tree/deep");
    kiln::atomic_write(h + "/tree/deep/g", "gee\n");

    REQUIRE(kiln({"cp", h + "/f", "box:/data/"}).exit_code == 0);
    CHECK(in_container(kiln, "cat /data/f; stat -c %u:%g /data/f") == "file\n0:0\n");
    REQUIRE(kiln({"cp", "-a", h + "/f", "box:/data/kept"}).exit_code == 0);
    CHECK(in_container(kiln, "stat -c %u:%g /data/kept") == "1234:2345\n");
    REQUIRE(kiln({"cp", h + "/tree", "box:/newtree"}).exit_code == 0);
    CHECK(in_container(kiln, "cat /newtree/deep/g") == "gee\n");
    REQUIRE(kiln({"cp", h + "/tree/.", "box:/data"}).exit_code == 0);
    CHECK(in_container(kiln, "cat /data/deep/g") == "gee\n");

    auto into_file = kiln({"cp", h + "/tree", "box:/data/a"});
    CHECK(into_file.exit_code == 1);
    CHECK(in_container(kiln, "cat /data/a") == "one\n");
    auto missing_dir = kiln({"cp", h + "/f", "box:/absent/"});
    CHECK(missing_dir.exit_code == 1);
    CHECK(in_container(kiln, "test -e /absent || echo none") == "none\n");
    auto missing_src = kiln({"cp", h + "/nothing", "box:/data"});
    CHECK(missing_src.exit_code == 1);
    CHECK(missing_src.err.find("no such file or directory") != std::string::npos);

    // A stopped container: its rootfs is mounted for the copy alone.
    REQUIRE(kiln({"stop", "-t", "0", "box"}).exit_code == 0);
    REQUIRE(kiln({"cp", h + "/f", "box:/stopped-copy"}).exit_code == 0);
    REQUIRE(kiln({"cp", "box:/stopped-copy", h + "/back"}).exit_code == 0);
    CHECK(kiln::read_file(h + "/back") == "file\n");
    REQUIRE(kiln({"cp", "box:/data/a", h + "/from-stopped"}).exit_code == 0);
    CHECK(kiln::read_file(h + "/from-stopped") == "one\n");
    CHECK(kiln::read_file("/proc/self/mountinfo").find(kiln.root.path()) == std::string::npos);
    REQUIRE(kiln({"start", "box"}).exit_code == 0);
    REQUIRE(soon([&] { return in_container(kiln, "cat /stopped-copy") == "file\n"; }));
    kiln({"rm", "-f", "box"});
}

TEST_CASE("cp with - writes a tar to stdout and extracts one from stdin", "[cp]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    start_data_container(kiln);
    auto out = kiln({"cp", "box:/data", "-"});
    REQUIRE(out.exit_code == 0);
    auto listing = kiln::test::run_command({"tar", "-tf", "-"}, out.out);
    REQUIRE(listing.exit_code == 0);
    CHECK(listing.out.find("data/\n") != std::string::npos);
    CHECK(listing.out.find("data/sub/b\n") != std::string::npos);
    CHECK(listing.out.find("data/link\n") != std::string::npos);

    kiln::TempDir host("/tmp", "kiln-cp-tar-");
    kiln::mkdir_p(host.path() + "/in/x");
    kiln::atomic_write(host.path() + "/in/x/y", "why\n");
    auto tar = kiln::test::run_command({"tar", "-cf", "-", "-C", host.path() + "/in", "."});
    REQUIRE(tar.exit_code == 0);
    REQUIRE(kiln({"cp", "-", "box:/tmp"}, tar.out).exit_code == 0);
    CHECK(in_container(kiln, "cat /tmp/x/y") == "why\n");
    auto not_dir = kiln({"cp", "-", "box:/data/a"}, tar.out);
    CHECK(not_dir.exit_code == 1);
    CHECK(not_dir.err == "Error: destination \"box:/data/a\" must be a directory\n");
    kiln({"rm", "-f", "box"});
}

TEST_CASE("cp resolves a symlink to / inside the container, never on the host", "[cp][security]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::test::HostMarker marker;
    const std::string dir = marker.dir.path();
    auto run = kiln({"run", "-d", "--name", "box", "localhost/busybox", "sh", "-c",
                     "ln -s / /x; mkdir -p " + dir + "; echo container-decoy > " + dir +
                         "/secret; touch /ready; while :; do sleep 0.1; done"});
    REQUIRE(run.exit_code == 0);
    REQUIRE(soon([&] { return kiln({"exec", "box", "test", "-e", "/ready"}).exit_code == 0; }));

    auto read = kiln({"cp", "box:/x" + dir + "/secret", "-"});
    REQUIRE(read.exit_code == 0);
    CHECK_FALSE(marker.reached(read.out));
    CHECK(read.out.find("container-decoy") != std::string::npos);
    auto relative = kiln({"cp", "box:/x/../x/x/" + kiln::test::up + dir + "/secret", "-"});
    CHECK_FALSE(marker.reached(relative.out));

    kiln::TempDir host("/tmp", "kiln-cp-sym-");
    kiln::atomic_write(host.path() + "/pwned", "written\n");
    REQUIRE(kiln({"cp", host.path() + "/pwned", "box:/x" + dir + "/"}).exit_code == 0);
    CHECK_FALSE(kiln::path_exists(marker.pwned));
    CHECK(trimmed(kiln({"exec", "box", "cat", dir + "/pwned"}).out) == "written");
    kiln({"rm", "-f", "box"});
}

TEST_CASE("cp in and out while the container swaps a directory for a symlink to / never reaches the host",
          "[cp][security]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::test::HostMarker marker;
    const std::string dir = marker.dir.path();
    // /d is a directory holding dir/secret ("in-d") and, half the time, a symlink to the
    // container's "/" holding dir/secret too ("in-root"): the attacker of CVE-2018-15664.
    auto run = kiln({"run", "-d", "--name", "swap", "localhost/busybox", "sh", "-c",
                     "mkdir -p /d" + dir + " " + dir + "; echo in-d > /d" + dir + "/secret; echo in-root > " + dir +
                         "/secret; cd /; touch /ready; "
                         "while :; do mv d d.tmp; ln -s / d; rm d; mv d.tmp d; done"});
    REQUIRE(run.exit_code == 0);
    REQUIRE(soon([&] { return kiln({"exec", "swap", "test", "-e", "/ready"}).exit_code == 0; }));

    kiln::TempDir host("/tmp", "kiln-cp-race-");
    kiln::atomic_write(host.path() + "/pwned", "written\n");
    int read_in_d = 0, read_in_root = 0, writes = 0;
    for (int i = 0; i < 100; ++i) {
        auto out = kiln({"cp", "swap:/d" + dir + "/secret", "-"});
        REQUIRE_FALSE(marker.reached(out.out));
        if (out.exit_code == 0) {
            if (out.out.find("in-d") != std::string::npos) ++read_in_d;
            if (out.out.find("in-root") != std::string::npos) ++read_in_root;
        }
        if (kiln({"cp", host.path() + "/pwned", "swap:/d" + dir + "/"}).exit_code == 0) ++writes;
        REQUIRE_FALSE(kiln::path_exists(marker.pwned));
    }
    INFO("reads through the directory " << read_in_d << ", through the symlink " << read_in_root << ", writes "
                                        << writes);
    // Both states were hit, so the copies really ran against the swapping path.
    CHECK(read_in_d > 0);
    CHECK(read_in_root > 0);
    CHECK(writes > 0);
    CHECK(kiln::test::dir_entries(dir) == std::set<std::string>{"secret"});
    kiln({"rm", "-f", "swap"});
}
