// Volumes and mounts (issue #11 item 4): named volumes that outlive containers, copy-up of
// an image's files into a new volume, anonymous volumes of an image's VOLUME and their
// removal, --mount's bind/volume/tmpfs forms, --volumes-from, and refusals of bad input
// that leave nothing behind.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "harness.hpp"
#include "util/fs.hpp"

namespace {

using kiln::test::Kiln;
using kiln::test::trimmed;

using kiln::test::sh;

std::string volume_names(const Kiln& kiln) { return kiln({"volume", "ls", "-q"}).out; }

std::size_t line_count(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// busybox plus /seed (a file owned by nobody, mode 0640, and a subdirectory) declared a VOLUME.
void build_seeded_image(const Kiln& kiln) {
    kiln::test::import_base(kiln);
    kiln::TempDir context("/tmp", "kiln-it-volume-");
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM localhost/busybox\n"
                       "RUN mkdir -p /seed/sub && echo seeded > /seed/file && echo deep > /seed/sub/inner && "
                       "chown 65534:65534 /seed/file && chmod 0640 /seed/file && chmod 0700 /seed/sub\n"
                       "VOLUME /seed\n");
    auto r = kiln({"build", "-q", "-t", "localhost/seeded", context.path()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("a named volume written by one container is read by the next", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto write = sh(kiln, {"-v", "notes:/data"}, "echo kept > /data/note");
    INFO(write.err);
    REQUIRE(write.exit_code == 0);
    CHECK(trimmed(volume_names(kiln)) == "notes");
    auto read = sh(kiln, {"-v", "notes:/mnt/other"}, "cat /mnt/other/note");
    CHECK(read.exit_code == 0);
    CHECK(trimmed(read.out) == "kept");
    const auto mountpoint = trimmed(kiln({"volume", "inspect", "-f", "{{.Mountpoint}}", "notes"}).out);
    CHECK(mountpoint == kiln.root.path() + "/volumes/notes/_data");
    CHECK(kiln::read_file(mountpoint + "/note") == "kept\n");
    CHECK(trimmed(kiln({"volume", "inspect", "-f", "{{.Driver}} {{.Scope}} {{.Name}}", "notes"}).out) ==
          "local local notes");
    // Made on first use, it is no anonymous volume: prune without -a keeps it.
    CHECK(kiln({"volume", "prune", "-f"}).exit_code == 0);
    CHECK(trimmed(volume_names(kiln)) == "notes");
}

TEST_CASE("an image VOLUME gets an anonymous volume filled from the image, removed by rm -v", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    build_seeded_image(kiln);
    auto r = kiln({"run", "--name", "first", "localhost/seeded", "sh", "-c",
                   "cat /seed/file /seed/sub/inner; stat -c '%a %u %g' /seed/file /seed/sub; echo new > /seed/added"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "seeded\ndeep\n640 65534 65534\n700 0 0\n");
    const auto name = trimmed(kiln({"inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "first"}).out);
    REQUIRE(name.size() == 64);
    CHECK(trimmed(kiln({"inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Destination}} {{.Driver}} {{.RW}}{{end}}", "first"}).out) ==
          "volume /seed local true");
    CHECK(trimmed(volume_names(kiln)) == name);
    CHECK(trimmed(kiln({"volume", "inspect", "-f", "{{json .Labels}}", name}).out) ==
          "{\"com.docker.volume.anonymous\":\"\"}");
    const auto data = kiln.root.path() + "/volumes/" + name + "/_data";
    CHECK(kiln::read_file(data + "/added") == "new\n");

    // A second container gets its own anonymous volume, with the image's files again.
    auto second = kiln({"run", "--rm", "localhost/seeded", "ls", "/seed"});
    CHECK(second.out == "file\nsub\n");
    // ... and --rm took it away: only the first one's is left.
    CHECK(trimmed(volume_names(kiln)) == name);

    // A named volume over the VOLUME path is filled the same way, and kept by rm -v.
    CHECK(kiln({"run", "--name", "named", "-v", "seedcopy:/seed", "localhost/seeded", "true"}).exit_code == 0);
    CHECK(kiln::read_file(kiln.root.path() + "/volumes/seedcopy/_data/sub/inner") == "deep\n");
    CHECK(kiln({"rm", "-v", "first", "named"}).exit_code == 0);
    CHECK(trimmed(volume_names(kiln)) == "seedcopy");
    CHECK_FALSE(kiln::path_exists(data));
}

TEST_CASE("a volume a container uses cannot be removed, not even with -f", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    CHECK(trimmed(kiln({"volume", "create", "--label", "owner=test", "held"}).out) == "held");
    const auto id = trimmed(kiln({"create", "-v", "held:/h", "localhost/busybox", "true"}).out);
    REQUIRE(id.size() == 64);
    for (std::vector<std::string> rm : {std::vector<std::string>{"volume", "rm", "held"},
                                        std::vector<std::string>{"volume", "rm", "-f", "held"}}) {
        auto refused = kiln(rm);
        CHECK(refused.exit_code == 1);
        CHECK(refused.err.find("volume is in use - [" + id + "]") != std::string::npos);
        CHECK(line_count(refused.err) == 1);
    }
    CHECK(trimmed(kiln({"volume", "ls", "-q", "--filter", "dangling=true"}).out).empty());
    CHECK(trimmed(kiln({"volume", "ls", "-q", "--filter", "label=owner=test"}).out) == "held");
    CHECK(kiln({"rm", "-v", id}).exit_code == 0);  // -v leaves a named volume alone
    CHECK(trimmed(kiln({"volume", "ls", "-q", "--filter", "dangling=true"}).out) == "held");
    CHECK(trimmed(kiln({"volume", "rm", "held"}).out) == "held");
    CHECK(volume_names(kiln).empty());
    // -f silences only a missing volume.
    CHECK(kiln({"volume", "rm", "-f", "held"}).exit_code == 0);
}

TEST_CASE("run --mount makes read-only binds, volumes and sized tmpfs mounts", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir host("/tmp", "kiln-it-mount-");
    kiln::atomic_write(host.path() + "/in", "from host\n");
    auto ro = sh(kiln, {"--mount", "type=bind,src=" + host.path() + ",dst=/h,readonly"},
                 "cat /h/in; echo x > /h/out && echo wrote");
    CHECK(ro.out == "from host\n");
    CHECK(ro.exit_code != 0);
    CHECK_FALSE(kiln::path_exists(host.path() + "/out"));

    auto rw = sh(kiln, {"--mount", "type=bind,source=" + host.path() + ",target=/h"}, "echo x > /h/out");
    CHECK(rw.exit_code == 0);
    CHECK(kiln::read_file(host.path() + "/out") == "x\n");

    auto vol = sh(kiln, {"--mount", "type=volume,source=viamount,destination=/v,volume-label=via=mount"}, "echo v > /v/f");
    CHECK(vol.exit_code == 0);
    CHECK(trimmed(kiln({"volume", "inspect", "-f", "{{index .Labels \"via\"}}", "viamount"}).out) == "mount");
    auto ro_volume = sh(kiln, {"--mount", "src=viamount,dst=/v,ro"}, "cat /v/f; touch /v/g");
    CHECK(ro_volume.out == "v\n");
    CHECK(ro_volume.exit_code != 0);

    auto tmpfs = sh(kiln, {"--mount", "type=tmpfs,dst=/t,tmpfs-size=2m,tmpfs-mode=1770"},
                    "grep ' /t ' /proc/mounts; stat -c %a /t");
    CHECK(tmpfs.exit_code == 0);
    CHECK(tmpfs.out.find("tmpfs /t tmpfs") != std::string::npos);
    CHECK(tmpfs.out.find("size=2048k") != std::string::npos);
    CHECK(tmpfs.out.find("\n1770\n") != std::string::npos);

    // A volume made with -o type=tmpfs is a tmpfs in the container.
    CHECK(kiln({"volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "memvol"}).exit_code == 0);
    auto mem = sh(kiln, {"-v", "memvol:/m"}, "grep ' /m ' /proc/mounts");
    CHECK(mem.out.find("tmpfs /m tmpfs") != std::string::npos);
    CHECK(mem.out.find("size=1024k") != std::string::npos);

    // -v propagation and SELinux flags are taken, as Docker takes them on a host without SELinux
    // (mount_propagation_test.cpp has shared and slave binds, which need a shared source).
    const auto id = trimmed(kiln({"create", "-v", host.path() + ":/p:private,z", "localhost/busybox", "true"}).out);
    CHECK(trimmed(kiln({"inspect", "-f", "{{range .Mounts}}{{.Propagation}}{{end}}", id}).out) == "private");
    CHECK(kiln({"start", "-a", id}).exit_code == 0);
}

TEST_CASE("run --volumes-from mounts another container's volumes, read-only with :ro", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::TempDir host("/tmp", "kiln-it-from-");
    auto make = kiln({"run", "--name", "source", "-v", "shared:/shared", "-v", host.path() + ":/bound",
                      "localhost/busybox", "sh", "-c", "echo one > /shared/f; echo two > /bound/f"});
    REQUIRE(make.exit_code == 0);
    auto rw = sh(kiln, {"--volumes-from", "source"}, "cat /shared/f /bound/f; echo three >> /shared/f");
    CHECK(rw.out == "one\ntwo\n");
    CHECK(rw.exit_code == 0);
    auto ro = sh(kiln, {"--volumes-from", "source:ro"}, "cat /shared/f; echo four >> /shared/f");
    CHECK(ro.out == "one\nthree\n");
    CHECK(ro.exit_code != 0);
    CHECK(kiln({"volume", "rm", "shared"}).exit_code == 1);  // still the source container's
    auto unknown = sh(kiln, {"--volumes-from", "nobody"}, "true");
    CHECK(unknown.exit_code == 125);
    CHECK(unknown.err.find("No such container: nobody") != std::string::npos);
}

TEST_CASE("bad volume names, malformed mounts and unknown volumes are one-line errors that create nothing", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    for (const char* name : {"a/b", "..", "../up", "_x", "x"}) {
        auto r = kiln({"volume", "create", name});
        INFO(name << ": " << r.err);
        CHECK(r.exit_code == 1);
        CHECK(line_count(r.err) == 1);
    }
    for (std::vector<std::string> flags : {std::vector<std::string>{"-v", "a/b:/x"},
                                           {"-v", "..:/x"},
                                           {"-v", "good:/x:shared"},
                                           {"-v", "good:relative"},
                                           {"--mount", "type=volume,src=good"},
                                           {"--mount", "type=bind,src=/no/such/kiln/dir,dst=/x"},
                                           {"--mount", "type=tmpfs,dst=/x,tmpfs-size=lots"},
                                           {"--mount", "type=volume,src=good,dst=/x,colour=red"},
                                           {"-v", "good:/x", "--mount", "src=other,dst=/x"}}) {
        auto r = sh(kiln, flags, "true");
        INFO(flags[1] << ": " << r.err);
        CHECK(r.exit_code == 125);
        CHECK(line_count(r.err) == 1);
    }
    CHECK(volume_names(kiln).empty());
    CHECK(kiln({"ps", "-aq"}).out.empty());
    auto unknown = kiln({"volume", "rm", "nosuchvolume"});
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err == "kiln: get nosuchvolume: no such volume\n");
    auto inspect = kiln({"volume", "inspect", "nosuchvolume"});
    CHECK(inspect.exit_code == 1);
}

TEST_CASE("volume prune removes unused anonymous volumes, and with -a named ones too", "[volumes]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const auto anonymous = trimmed(kiln({"volume", "create", "--label", "com.docker.volume.anonymous="}).out);
    REQUIRE(anonymous.size() == 64);
    CHECK(kiln({"volume", "create", "named"}).exit_code == 0);
    CHECK(kiln({"volume", "create", "busy"}).exit_code == 0);
    CHECK(kiln({"create", "-v", "busy:/b", "localhost/busybox", "true"}).exit_code == 0);
    auto pruned = kiln({"volume", "prune", "-f"});
    CHECK(pruned.out.find("Deleted Volumes:\n" + anonymous + "\n") != std::string::npos);
    CHECK(volume_names(kiln) == "busy\nnamed\n");
    auto all = kiln({"volume", "prune", "-f", "-a"});
    CHECK(all.out.find("named\n") != std::string::npos);
    CHECK(volume_names(kiln) == "busy\n");
}

TEST_CASE("copy-up follows an image's symlinked VOLUME path inside the image, never to the host", "[volumes][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::test::HostMarker marker;
    kiln::TempDir context("/tmp", "kiln-it-volume-escape-");
    // /escape points at the host directory holding the secret (absolute) and /climb climbs
    // to it with "..": both must resolve inside the image, where nothing is.
    kiln::atomic_write(context.path() + "/Dockerfile",
                       "FROM localhost/busybox\nRUN ln -s " + marker.dir.path() + " /escape && ln -s " +
                           kiln::test::up + marker.dir.path() + " /climb\n");
    auto built = kiln({"build", "-q", "-t", "localhost/escape", context.path()});
    INFO(built.err);
    REQUIRE(built.exit_code == 0);
    for (const char* path : {"/escape", "/climb"}) {
        const std::string volume = std::string("esc") + (path + 1);
        auto r = kiln({"run", "--rm", "-v", volume + ":" + path, "localhost/escape", "sh", "-c", std::string("ls -a ") + path});
        INFO(r.err);
        const auto data = kiln.root.path() + "/volumes/" + volume + "/_data";
        CHECK_FALSE(kiln::path_exists(data + "/secret"));
        CHECK_FALSE(marker.reached(r.out));
    }
}
