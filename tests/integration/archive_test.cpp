// kiln save / load / export: round trips, reproducibility, the blob cache, hostile
// archives, an interrupted load, and interop with skopeo, umoci and podman.
#include <catch2/catch.hpp>

#include <sys/mount.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "harness.hpp"
#include "util/error.hpp"
#include "image/layer_tar.hpp"
#include "image/tar_header.hpp"
#include "util/digest.hpp"
#include "util/fs.hpp"

using kiln::test::have_tool;
using kiln::test::import_base;
using kiln::test::Kiln;
using kiln::test::run_command;

namespace {

namespace fs = std::filesystem;

std::string read(const std::string& path) { return kiln::read_file(path); }

void write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

// A tar built in memory from (header, data) pairs, with kiln's own header encoder.
struct TarBuilder {
    std::string bytes;
    TarBuilder& add(const std::string& name, const std::string& data, char type = '0', const std::string& link = "",
                    std::uint32_t mode = 0644, std::uint64_t claimed_size = UINT64_MAX) {
        kiln::image::TarHeader h;
        h.name = name;
        h.type = type;
        h.mode = mode;
        h.size = claimed_size != UINT64_MAX ? claimed_size : data.size();
        h.linkname = link;
        if (type == '3') h.devmajor = 1, h.devminor = 3;
        kiln::image::append_tar_header(bytes, h);
        bytes += data;
        bytes.append(kiln::image::tar_padding(data.size()), '\0');
        return *this;
    }
    std::string finish() const { return bytes + std::string(1024, '\0'); }
};

std::string config_for(const std::vector<std::string>& diff_ids) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& d : diff_ids) ids.push_back(d);
    return nlohmann::json{{"architecture", "amd64"}, {"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}}
        .dump();
}

// A legacy docker-archive (Podman's and old Docker's layout) with the given layer tars.
std::string legacy_archive(const std::vector<std::string>& layers, const std::string& tag = "localhost/hostile:1",
                           std::optional<std::string> config = std::nullopt) {
    std::vector<std::string> ids, files;
    TarBuilder t;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        ids.push_back(kiln::sha256_of(layers[i]).str());
        files.push_back("l" + std::to_string(i) + "/layer.tar");
        t.add("l" + std::to_string(i) + "/layer.tar", layers[i]);
    }
    std::string cfg = config.value_or(config_for(ids));
    t.add("config.json", cfg);
    nlohmann::json manifest = nlohmann::json::array(
        {{{"Config", "config.json"}, {"RepoTags", {tag}}, {"Layers", files}}});
    t.add("manifest.json", manifest.dump());
    return t.finish();
}

// What must not change when a load is refused: the store's blobs, layers and images.
std::string store_state(const Kiln& kiln) {
    std::string out;
    for (const char* sub : {"/blobs/sha256", "/layers"}) {
        std::set<std::string> names;
        std::string dir = kiln.root.path() + sub;
        if (fs::exists(dir))
            for (auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename());
        for (const auto& n : names) out += std::string(sub) + "/" + n + "\n";
    }
    out += kiln({"images", "-q"}).out;
    return out;
}

std::string load_file(const Kiln&, const std::string& bytes, const std::string& dir, const std::string& name) {
    std::string path = dir + "/" + name;
    write(path, bytes);
    return path;
}

// The OCI manifest of the first image in an oci-dir.
nlohmann::json first_manifest(const std::string& layout) {
    auto index = nlohmann::json::parse(read(layout + "/index.json"));
    std::string digest = index["manifests"][0]["digest"];
    return nlohmann::json::parse(read(layout + "/blobs/sha256/" + digest.substr(7)));
}

// An image with a built (COPY) layer over the imported base.
void build_app(const Kiln& kiln, const std::string& work) {
    import_base(kiln);
    fs::create_directories(work + "/ctx/sub");
    write(work + "/ctx/hello.txt", "hello from kiln\n");
    write(work + "/ctx/sub/data", std::string(100000, 'x'));
    write(work + "/ctx/Dockerfile",
          "FROM localhost/busybox\nCOPY hello.txt /hello.txt\nCOPY sub /sub\nRUN ln -s /hello.txt /link && rm /bin/arch\n");
    auto r = kiln({"build", "-t", "localhost/app:1", work + "/ctx"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("save and load round-trip every format with digests intact", "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-archive-");
    build_app(kiln, work.path());
    REQUIRE(kiln({"tag", "localhost/app:1", "localhost/app:2"}).exit_code == 0);
    const std::string id = kiln({"images", "-q"}).out;

    for (std::string format : {"docker-archive", "oci-archive", "oci-dir"}) {
        DYNAMIC_SECTION(format) {
            std::string out = work.path() + "/out-" + format;
            auto s = kiln({"save", "--format", format, "-o", out, "localhost/app:1", "localhost/app:2", "localhost/busybox"});
            INFO(s.err);
            REQUIRE(s.exit_code == 0);
            Kiln other;
            auto l = other({"load", "-i", out});
            INFO(l.err);
            REQUIRE(l.exit_code == 0);
            CHECK(l.out.find("Loaded image: localhost/app:1\n") != std::string::npos);
            CHECK(l.out.find("Loaded image: localhost/app:2\n") != std::string::npos);
            CHECK(l.out.find("Loaded image: localhost/busybox:latest\n") != std::string::npos);
            auto ids = other({"images", "-q"}).out;
            CHECK(ids.find(id.substr(0, 12)) != std::string::npos);
            auto run = other({"run", "--rm", "localhost/app:2", "cat", "/link", "/sub/data"});
            CHECK(run.out == "hello from kiln\n" + std::string(100000, 'x'));
            CHECK(other({"run", "--rm", "localhost/app:2", "ls", "/bin/arch"}).exit_code != 0);
        }
    }
}

TEST_CASE("docker-archive has Docker 25+'s layout, each blob once", "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-archive-");
    build_app(kiln, work.path());
    std::string out = work.path() + "/a.tar";
    REQUIRE(kiln({"save", "-o", out, "localhost/app:1", "localhost/busybox"}).exit_code == 0);
    auto list = run_command({"tar", "tf", out}).out;
    for (const char* name : {"manifest.json\n", "repositories\n", "index.json\n", "oci-layout\n", "blobs/sha256/"})
        CHECK(list.find(name) != std::string::npos);
    auto manifest = nlohmann::json::parse(run_command({"tar", "xOf", out, "manifest.json"}).out);
    REQUIRE(manifest.size() == 2);
    auto config = nlohmann::json::parse(run_command({"tar", "xOf", out, manifest[0]["Config"]}).out);
    // Layers are uncompressed and named by diffID, as Docker writes them.
    for (std::size_t i = 0; i < manifest[0]["Layers"].size(); ++i)
        CHECK("blobs/sha256/" + config["rootfs"]["diff_ids"][i].get<std::string>().substr(7) ==
              manifest[0]["Layers"][i]);
    // The base layer is shared by both images: it is stored once.
    std::string base = manifest[1]["Layers"][0];
    CHECK(manifest[0]["Layers"][0] == base);
    CHECK(list.find(base) == list.rfind(base));
}

TEST_CASE("SOURCE_DATE_EPOCH saves are byte-identical, and the second save reuses the compressed blobs",
          "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-archive-");
    build_app(kiln, work.path());
    for (std::string format : {"docker-archive", "oci-archive"}) {
        std::string a = work.path() + "/a-" + format, b = work.path() + "/b-" + format;
        auto save = [&](const std::string& out) {
            return run_command({"env", "SOURCE_DATE_EPOCH=1700000000", KILN_BINARY, "--root", kiln.root.path(), "save",
                                "--format", format, "-o", out, "localhost/app:1"});
        };
        REQUIRE(save(a).exit_code == 0);
        auto blobs_after_first = store_state(kiln);
        REQUIRE(save(b).exit_code == 0);
        CHECK(read(a) == read(b));
        CHECK(store_state(kiln) == blobs_after_first);  // nothing compressed again
    }
    // zstd is one more blob per layer, kept as well.
    REQUIRE(kiln({"save", "--format", "oci-dir", "--compression", "zstd", "-o", work.path() + "/z", "localhost/app:1"})
                .exit_code == 0);
    CHECK(first_manifest(work.path() + "/z")["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd");
}

// The layers/<chainid> dir of the built layer holding path (inside its diff).
std::string built_layer_dir(const Kiln& kiln, const std::string& path) {
    for (auto& e : fs::directory_iterator(kiln.root.path() + "/layers"))
        if (fs::exists(e.path() / "diff" / path)) return e.path();
    return {};
}

TEST_CASE("a built layer is saved without hashing its tar again, and a layer changed on disk is still caught",
          "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-archive-");
    build_app(kiln, work.path());
    const std::string layer = built_layer_dir(kiln, "hello.txt");
    REQUIRE(!layer.empty());
    REQUIRE(fs::exists(layer + "/reproducible-tar"));  // marked by its commit
    const std::string out = work.path() + "/app.tar";
    auto save = [&] { return kiln({"save", "--format", "oci-archive", "--compression", "none", "-o", out, "localhost/app:1"}); };
    // The save fails with an error saying `why` and leaves no archive behind.
    auto refused = [&](const std::string& why) {
        auto r = save();
        INFO(r.err);
        CHECK(r.exit_code == 125);
        CHECK(r.err.find(why) != std::string::npos);
        CHECK(!fs::exists(out));
    };

    SECTION("an unmarked layer is verified in full once, then marked") {
        fs::remove(layer + "/reproducible-tar");
        REQUIRE(save().exit_code == 0);
        CHECK(fs::exists(layer + "/reproducible-tar"));
        Kiln other;
        CHECK(other({"load", "-i", out}).exit_code == 0);
    }
    SECTION("a stale mark (another layer's, another writer's) counts for nothing") {
        write(layer + "/reproducible-tar", "format 0 diffid sha256:00 size 1\n");
        write(layer + "/diff/hello.txt", "HELLO FROM KILN\n");  // same size, other bytes
        refused("cannot be reproduced");
    }
    SECTION("a marked layer that shrank fails the save") {
        const std::string data_layer = built_layer_dir(kiln, "sub/data");
        REQUIRE(!data_layer.empty());
        fs::remove(data_layer + "/diff/sub/data");
        refused("changed on disk");
    }
    SECTION("a marked layer that grew fails the save") {
        write(layer + "/diff/hello.txt", std::string(600, 'h'));  // one tar block more
        refused("grew beyond");
    }
    SECTION("a marked layer changed in place is refused by the loader's digest check") {
        write(layer + "/diff/hello.txt", "HELLO FROM KILN\n");
        REQUIRE(save().exit_code == 0);
        Kiln other;
        auto l = other({"load", "-i", out});
        CHECK(l.exit_code == 125);
        CHECK(other({"images", "-q"}).out.empty());
    }
}

TEST_CASE("save refuses a terminal and unknown images with one line", "[integration][archive]") {
    Kiln kiln;
    auto r = kiln({"save", "-o", "/tmp/kiln-it-never.tar", "localhost/nope:1"});
    CHECK(r.exit_code == 125);
    CHECK(r.err == "kiln: No such image: localhost/nope:1\n");
    CHECK(!fs::exists("/tmp/kiln-it-never.tar"));
    auto missing = kiln({"load", "-i", "/nonexistent/archive.tar"});
    CHECK(missing.exit_code == 125);
    CHECK(missing.err.find("/nonexistent/archive.tar") != std::string::npos);
    if (have_tool("script")) {
        auto tty = run_command({"script", "-qec", KILN_BINARY " --root " + kiln.root.path() + " save localhost/x", "/dev/null"});
        CHECK(tty.out.find("cowardly refusing to save to a terminal. Use the -o flag or redirect") != std::string::npos);
    }
}

TEST_CASE("hostile archives are refused or kept inside their layer, and refusals change nothing",
          "[integration][archive][hostile]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir work("/tmp", "kiln-it-hostile-");
    kiln::TempDir outside("/tmp", "kiln-it-outside-");
    const std::string victim = outside.path();  // a directory outside the store
    const std::string before = store_state(kiln);

    auto refused = [&](const std::string& bytes, const std::string& why_fragment) {
        std::string path = load_file(kiln, bytes, work.path(), "bad.tar");
        auto r = kiln({"load", "-i", path});
        INFO(r.out << r.err);
        CHECK(r.exit_code == 125);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.err.find(why_fragment) != std::string::npos);
        CHECK(store_state(kiln) == before);
        CHECK(fs::is_empty(victim));
    };
    auto kept_inside = [&](const std::string& layer) {
        std::string path = load_file(kiln, legacy_archive({layer}), work.path(), "odd.tar");
        auto r = kiln({"load", "-i", path});
        INFO(r.out << r.err);
        CHECK(fs::is_empty(victim));  // loaded or refused, nothing outside the layer
        if (r.exit_code != 0) CHECK(store_state(kiln) == before);
        kiln({"rmi", "localhost/hostile:1"});
    };

    SECTION("../ and absolute paths") {
        kept_inside(TarBuilder().add("../../../../.." + victim + "/dotdot", "x").add(victim + "/abs", "y").finish());
    }
    SECTION("a symlink followed by a write through it") {
        kept_inside(TarBuilder().add("esc", "", '2', victim).add("esc/pwned", "z").finish());
        kept_inside(TarBuilder().add("up", "", '2', "../../../../../../..").add("up" + victim + "/pwned", "z").finish());
    }
    SECTION("a hardlink to a path outside the layer") {
        refused(legacy_archive({TarBuilder().add("hl", "", '1', "../../../../../etc/passwd").finish()}), "hardlink");
    }
    SECTION("device nodes stay inside the layer") {
        kept_inside(TarBuilder().add("dev/mynull", "", '3').finish());
    }
    SECTION("duplicate entries in a layer: the later one wins") {
        std::string path = load_file(kiln, legacy_archive({TarBuilder().add("f", "one").add("f", "two").finish()}),
                                     work.path(), "dup.tar");
        CHECK(kiln({"load", "-i", path}).exit_code == 0);
        kiln({"rmi", "localhost/hostile:1"});
    }
    SECTION("duplicate entries in the archive") {
        std::string layer = TarBuilder().add("f", "x").finish();
        std::string a = legacy_archive({layer});
        TarBuilder t;
        t.bytes = a.substr(0, a.size() - 1024);
        t.add("config.json", "{}");
        refused(t.finish(), "two entries named config.json");
    }
    SECTION("whiteouts naming .. or /") {
        refused(legacy_archive({TarBuilder().add(".wh...", "").finish()}), "invalid whiteout");
        refused(legacy_archive({TarBuilder().add("a/.wh.", "").finish()}), "invalid whiteout");
    }
    SECTION("a 10 GB file claimed by a tiny archive") {
        refused(legacy_archive({TarBuilder().add("big", "tiny", '0', "", 0644, 10ull << 30).finish()}), "layer");
        TarBuilder outer;
        outer.add("manifest.json", "[]", '0', "", 0644, 10ull << 30);
        refused(outer.bytes, "truncated");
    }
    SECTION("a truncated gzip archive") {
        std::string plain = legacy_archive({TarBuilder().add("f", std::string(200000, 'q')).finish()});
        std::string gz;
        kiln::image::Compressor c(kiln::image::Compression::Gzip, [&](const void* d, std::size_t n) {
            gz.append(static_cast<const char*>(d), n);
        });
        c.write(plain.data(), plain.size());
        c.finish();
        refused(gz.substr(0, gz.size() / 2), "");
    }
    SECTION("wrong digests") {
        std::string layer = TarBuilder().add("f", "x").finish();
        refused(legacy_archive({layer}, "localhost/hostile:1", config_for({kiln::sha256_of("other").str()})),
                "does not match the config");
    }
    SECTION("a manifest pointing at a missing blob") {
        TarBuilder t;
        t.add("config.json", config_for({kiln::sha256_of("x").str()}));
        t.add("manifest.json", R"([{"Config":"config.json","RepoTags":["localhost/hostile:1"],"Layers":["gone/layer.tar"]}])");
        refused(t.finish(), "gone/layer.tar is missing");
    }
    SECTION("a config that is not JSON") {
        refused(legacy_archive({TarBuilder().add("f", "x").finish()}, "localhost/hostile:1", "{not json"), "config.json");
    }
    SECTION("manifest.json listing the same layer twice") {
        std::string layer = TarBuilder().add("f", "x").finish();
        std::string id = kiln::sha256_of(layer).str();
        TarBuilder t;
        t.add("l/layer.tar", layer);
        t.add("config.json", config_for({id, id}));
        t.add("manifest.json", R"([{"Config":"config.json","RepoTags":["localhost/hostile:1"],"Layers":["l/layer.tar","l/layer.tar"]}])");
        // Legal for Docker (two identical layers); it loads as two layers of one image.
        std::string path = load_file(kiln, t.finish(), work.path(), "twice.tar");
        auto r = kiln({"load", "-i", path});
        INFO(r.err);
        CHECK(r.exit_code == 0);
        // Listed twice but with one diff_id: refused, nothing changed.
        TarBuilder u;
        u.add("l/layer.tar", layer);
        u.add("config.json", config_for({id}));
        u.add("manifest.json", R"([{"Config":"config.json","RepoTags":["localhost/hostile:2"],"Layers":["l/layer.tar","l/layer.tar"]}])");
        std::string state = store_state(kiln);
        std::string p2 = load_file(kiln, u.finish(), work.path(), "twice2.tar");
        CHECK(kiln({"load", "-i", p2}).exit_code == 125);
        CHECK(store_state(kiln) == state);
    }
    // Nothing was left in the store's staging area either.
    std::set<std::string> tmp;
    for (auto& e : fs::directory_iterator(kiln.root.path() + "/tmp")) tmp.insert(e.path().filename());
    CHECK(tmp.empty());
}

TEST_CASE("a kill -9 during load leaves no half-loaded image", "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-kill-");
    // Two big layers, so the load is still running when it is killed.
    std::string big1 = TarBuilder().add("a", std::string(150u << 20, 'a')).finish();
    std::string big2 = TarBuilder().add("b", std::string(150u << 20, 'b')).finish();
    std::string path = load_file(kiln, legacy_archive({big1, big2}, "localhost/big:1"), work.path(), "big.tar");
    big1.clear();
    big2.clear();
    const std::string before = kiln({"images", "-q"}).out;
    auto argv = kiln.argv({"load", "-i", path});
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::usleep(400 * 1000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(kiln({"images", "-q"}).out == before);
    auto again = kiln({"load", "-i", path});
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK(again.out == "Loaded image: localhost/big:1\n");
}

// A store on a filesystem of its own, small enough to fill, for the life of this object.
struct SmallDisk {
    std::string path;
    SmallDisk(std::string where, const char* size) : path(std::move(where)) {
        std::string options = std::string("size=") + size;
        if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) != 0) kiln::throw_errno("mount tmpfs " + path);
    }
    ~SmallDisk() { ::umount2(path.c_str(), MNT_DETACH); }
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;
};

TEST_CASE("a load that fills the disk changes nothing and the store goes on working", "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    SmallDisk disk(kiln.root.path(), "16m");
    kiln::test::import_base(kiln);
    kiln::TempDir work("/tmp", "kiln-it-full-");
    std::string big = TarBuilder().add("big", std::string(12u << 20, 'x')).finish();
    std::string path = load_file(kiln, legacy_archive({big}, "localhost/too-big:1"), work.path(), "big.tar");
    big.clear();
    const std::string before = store_state(kiln);

    auto r = kiln({"load", "-i", path});
    CHECK(r.exit_code == 125);
    CHECK(r.err.find("No space left on device") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(store_state(kiln) == before);
    CHECK(kiln::test::dir_entries(kiln.root.path() + "/tmp").empty());  // the staging is gone too
    // What was there still works, and what fits can still be added.
    CHECK(kiln({"run", "--rm", "localhost/busybox", "true"}).exit_code == 0);
    CHECK(kiln({"tag", "localhost/busybox", "localhost/still-works"}).exit_code == 0);
}

TEST_CASE("export writes the flattened filesystem", "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-export-");
    build_app(kiln, work.path());
    std::string out = work.path() + "/fs.tar";
    REQUIRE(kiln({"export", "-o", out, "localhost/app:1"}).exit_code == 0);
    auto list = run_command({"tar", "tvf", out}).out;
    CHECK(list.find(" hello.txt\n") != std::string::npos);
    CHECK(list.find(" link -> /hello.txt\n") != std::string::npos);
    CHECK(list.find("bin/busybox\n") != std::string::npos);
    CHECK(list.find("bin/arch") == std::string::npos);  // removed by a later layer
    CHECK(list.find(".wh.") == std::string::npos);
    CHECK(kiln({"export", "-o", out, "localhost/nope"}).err == "kiln: No such container or image: localhost/nope\n");
}

TEST_CASE("export of a container writes its image with its writable layer applied, stopped or running",
          "[integration][archive]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-export-container-");
    build_app(kiln, work.path());
    // New file, changed file, deleted file, and a directory removed and made again (opaque).
    auto run = kiln({"run", "--name", "c1", "localhost/app:1", "sh", "-c",
                     "echo new > /new.txt && echo changed > /hello.txt && rm /bin/cat && "
                     "rm -r /sub && mkdir /sub && echo other > /sub/other"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    // Names a container first, as Docker's export: the image alone has none of this.
    const std::string out = work.path() + "/c1.tar";
    auto exported = kiln({"export", "-o", out, "c1"});
    INFO(exported.err);
    REQUIRE(exported.exit_code == 0);
    const std::string tree_dir = work.path() + "/c1";
    fs::create_directories(tree_dir);
    REQUIRE(run_command({"tar", "-xpf", out, "-C", tree_dir}).exit_code == 0);
    CHECK(read(tree_dir + "/new.txt") == "new\n");
    CHECK(read(tree_dir + "/hello.txt") == "changed\n");
    CHECK(read(tree_dir + "/sub/other") == "other\n");
    CHECK_FALSE(fs::exists(fs::symlink_status(tree_dir + "/sub/data")));
    CHECK_FALSE(fs::exists(fs::symlink_status(tree_dir + "/bin/cat")));
    CHECK(fs::exists(tree_dir + "/bin/busybox"));
    CHECK(run_command({"tar", "tf", out}).out.find(".wh.") == std::string::npos);

    // A running container, through its id prefix, without disturbing its own mount.
    auto detached = kiln({"run", "-d", "localhost/app:1", "sh", "-c",
                          "echo up > /up.txt && rm /hello.txt && touch /ready && sleep 1000"});
    INFO(detached.err);
    REQUIRE(detached.exit_code == 0);
    const std::string id = detached.out.substr(0, 64);
    bool ready = false;
    for (int i = 0; i < 500 && !ready; ++i) {
        auto r = kiln({"export", "-o", out, id.substr(0, 12)});
        ready = r.exit_code == 0 && run_command({"tar", "tf", out}).out.find("ready\n") != std::string::npos;
        if (!ready) usleep(10000);
    }
    REQUIRE(ready);
    auto list = run_command({"tar", "tf", out}).out;
    CHECK(list.find("up.txt\n") != std::string::npos);
    CHECK(list.find("hello.txt\n") == std::string::npos);
    CHECK(kiln({"rm", "-f", id}).exit_code == 0);
    // The image itself is untouched by both containers.
    REQUIRE(kiln({"export", "-o", out, "localhost/app:1"}).exit_code == 0);
    CHECK(run_command({"tar", "tf", out}).out.find("new.txt") == std::string::npos);
}

TEST_CASE("skopeo reads kiln's archives and reports kiln's layer digests", "[integration][archive][interop]") {
    SKIP_UNLESS_ROOT();
    SKIP_UNLESS_TOOL("skopeo");
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-skopeo-");
    build_app(kiln, work.path());
    for (std::string format : {"docker-archive", "oci-archive"}) {
        std::string out = work.path() + "/" + format + ".tar", dir = work.path() + "/" + format + "-dir";
        REQUIRE(kiln({"save", "--format", format, "-o", out, "localhost/app:1"}).exit_code == 0);
        REQUIRE(kiln({"save", "--format", "oci-dir", "--compression", format == "oci-archive" ? "gzip" : "none", "-o", dir,
                      "localhost/app:1"}).exit_code == 0);
        auto r = run_command({"skopeo", "inspect", format + ":" + out});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        nlohmann::json want = nlohmann::json::array();
        const auto manifest = first_manifest(dir);
        for (const auto& l : manifest["layers"]) want.push_back(l["digest"]);
        CHECK(nlohmann::json::parse(r.out)["Layers"] == want);
    }
}

TEST_CASE("every index, manifest and config kiln writes validates against the OCI schemas",
          "[integration][archive][interop]") {
    SKIP_UNLESS_ROOT();
    const std::string schemas = KILN_CONFORMANCE_DIR "/oci-image-spec/schema";
    if (!fs::exists(schemas)) {
        WARN("skipped: " << schemas << " is absent");
        return;
    }
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-schema-");
    build_app(kiln, work.path());
    std::string dir = work.path() + "/layout";
    REQUIRE(kiln({"save", "--format", "oci-dir", "-o", dir, "localhost/app:1", "localhost/busybox"}).exit_code == 0);
    const std::string script = KILN_SOURCE_DIR "/tests/integration/tools/validate-oci-json.py";
    auto check = [&](const std::string& kind, const std::string& file) {
        auto r = run_command({"/usr/bin/python3", script, schemas, kind, file});
        if (r.exit_code == 2) {
            WARN("skipped: " << r.err);
            return;
        }
        INFO(kind << " " << file << ": " << r.out << r.err);
        CHECK(r.exit_code == 0);
    };
    check("layout", dir + "/oci-layout");
    check("index", dir + "/index.json");
    auto index = nlohmann::json::parse(read(dir + "/index.json"));
    for (auto& m : index["manifests"]) {
        std::string mf = dir + "/blobs/sha256/" + m["digest"].get<std::string>().substr(7);
        check("manifest", mf);
        auto manifest = nlohmann::json::parse(read(mf));
        check("config", dir + "/blobs/sha256/" + manifest["config"]["digest"].get<std::string>().substr(7));
    }
}

TEST_CASE("umoci unpacks kiln's OCI layout into the tree kiln's containers see", "[integration][archive][interop]") {
    SKIP_UNLESS_ROOT();
    SKIP_UNLESS_TOOL("umoci");
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-umoci-");
    build_app(kiln, work.path());
    std::string dir = work.path() + "/layout";
    REQUIRE(kiln({"save", "--format", "oci-dir", "-o", dir, "localhost/app:1"}).exit_code == 0);
    auto u = run_command({"umoci", "unpack", "--image", dir + ":1", work.path() + "/bundle"});
    INFO(u.err);
    REQUIRE(u.exit_code == 0);
    fs::create_directories(work.path() + "/exported");
    REQUIRE(kiln({"export", "-o", work.path() + "/fs.tar", "localhost/app:1"}).exit_code == 0);
    REQUIRE(run_command({"tar", "-xpf", work.path() + "/fs.tar", "-C", work.path() + "/exported"}).exit_code == 0);
    // paths, types, modes, owners, link targets and bytes (directory mtimes differ by design)
    auto tree = [&](const std::string& root) {
        return run_command({"sh", "-c", "cd " + root + " && find . -mindepth 1 -printf '%p %y %m %u:%g %l %s\\n' | sort && "
                                        "find . -type f -exec md5sum {} + | sort"}).out;
    };
    CHECK(tree(work.path() + "/bundle/rootfs") == tree(work.path() + "/exported"));
}

TEST_CASE("podman loads kiln's archives, and kiln loads podman's and skopeo's", "[integration][archive][interop]") {
    SKIP_UNLESS_ROOT();
    SKIP_UNLESS_TOOL("podman");
    SKIP_UNLESS_TOOL("runc");
    Kiln kiln;
    kiln::TempDir work("/tmp", "kiln-it-podman-");
    build_app(kiln, work.path());
    const std::string podman_dir = work.path() + "/podman";
    auto podman = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {KILN_SOURCE_DIR "/tests/integration/tools/podman-private", podman_dir});
        return run_command(args);
    };
    const std::string want = kiln({"run", "--rm", "localhost/app:1", "cat", "/hello.txt", "/etc/passwd"}).out;
    REQUIRE(!want.empty());

    std::string out = work.path() + "/kiln.tar";
    REQUIRE(kiln({"save", "-o", out, "localhost/app:1"}).exit_code == 0);
    auto l = podman({"load", "-i", out});
    INFO(l.out << l.err);
    REQUIRE(l.exit_code == 0);
    auto pr = podman({"run", "--rm", "localhost/app:1", "cat", "/hello.txt", "/etc/passwd"});
    INFO(pr.err);
    CHECK(pr.out == want);

    for (std::string format : {"docker-archive", "oci-archive"}) {
        std::string saved = work.path() + "/podman-" + format + ".tar";
        auto s = podman({"save", "--format", format, "-o", saved, "localhost/app:1"});
        INFO(s.err);
        REQUIRE(s.exit_code == 0);
        Kiln other;
        auto kl = other({"load", "-i", saved});
        INFO(format << ": " << kl.out << kl.err);
        REQUIRE(kl.exit_code == 0);
        std::smatch m;
        std::string name = "localhost/app:1";
        if (std::regex_search(kl.out, m, std::regex("Loaded image ID: (sha256:[0-9a-f]+)"))) name = m[1];
        CHECK(other({"run", "--rm", name, "cat", "/hello.txt", "/etc/passwd"}).out == want);
    }
    if (have_tool("skopeo")) {
        std::string copied = work.path() + "/skopeo-oci";
        auto c = run_command({"skopeo", "copy", "docker-archive:" + out, "oci:" + copied + ":copied"});
        INFO(c.err);
        REQUIRE(c.exit_code == 0);
        Kiln other;
        auto kl = other({"load", "-i", copied});
        INFO(kl.out << kl.err);
        REQUIRE(kl.exit_code == 0);
        std::smatch m;
        REQUIRE(std::regex_search(kl.out, m, std::regex("Loaded image ID: (sha256:[0-9a-f]+)")));
        CHECK(other({"run", "--rm", m[1].str(), "cat", "/hello.txt", "/etc/passwd"}).out == want);
    }
}
