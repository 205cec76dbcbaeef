#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "image/layer_tar.hpp"
#include "image/staging.hpp"
#include "image/store.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::image::LayerInfo;
using kiln::image::Store;

namespace {

ino_t inode_of(const std::string& path) {
    struct stat st;
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_ino;
}

// A fixed mtime: the diffID covers mtimes, and equal content must give equal layers
// even when a test crosses a second boundary.
void fix_mtime(const std::string& path) {
    const struct timespec times[2] = {{1700000000, 0}, {1700000000, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

// One committed layer holding file name=content, on top of parent.
LayerInfo make_layer(Store& store, const std::string& key, const std::optional<Digest>& parent,
                     const std::string& name, const std::string& content) {
    auto snap = store.layers().prepare(key, parent);
    std::ofstream(snap.upper_dir + "/" + name) << content;
    fix_mtime(snap.upper_dir + "/" + name);
    fix_mtime(snap.upper_dir);
    return store.layers().commit(key);
}

// A store holding two stacked layers: l1 (file "one") under l2 (file "two").
struct TwoLayers {
    kiln::TempDir root{"/tmp", "kiln-ls-test-"};
    Store store{root.path()};
    LayerInfo l1 = make_layer(store, "s1", std::nullopt, "one", "1");
    LayerInfo l2 = make_layer(store, "s2", l1.chain_id, "two", "2");
};

}  // namespace

TEST_CASE("chain_id follows the OCI definition", "[store][layers]") {
    Digest a = kiln::sha256_of("a"), b = kiln::sha256_of("b");
    CHECK(kiln::image::chain_id(std::nullopt, a) == a);
    CHECK(kiln::image::chain_id(a, b) == kiln::sha256_of(a.str() + " " + b.str()));
}

TEST_CASE("store opens with its layout", "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    Store store(root.path());
    for (const char* sub : {"/blobs/sha256", "/layers", "/l/empty", "/snapshots", "/tmp", "/kiln.db"})
        CHECK(kiln::path_exists(root.path() + sub));
    CHECK(store.root() == root.path());
    CHECK_THROWS(Store(root.path() + "/a,b"));
}

TEST_CASE("prepare gives an overlay over an empty lower and commit moves the upper dir",
          "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    Store store(root.path());
    auto snap = store.layers().prepare("build-1", std::nullopt);
    const std::string dir = root.path() + "/snapshots/build-1";
    CHECK(snap.upper_dir == dir + "/upper");
    CHECK(snap.mount.type == "overlay");
    CHECK(snap.mount.source == "overlay");
    CHECK(snap.mount.base_dir == root.path());
    CHECK(snap.mount.options == "lowerdir=l/empty,upperdir=" + dir + "/upper,workdir=" + dir + "/work");
    CHECK(kiln::path_exists(dir + "/work"));
    CHECK_THROWS_WITH(store.layers().prepare("build-1", std::nullopt), Catch::Contains("exists"));
    CHECK_THROWS(store.layers().prepare("../x", std::nullopt));

    kiln::mkdir_p(snap.upper_dir + "/etc");
    kiln::atomic_write(snap.upper_dir + "/etc/hello", "world");
    const ino_t upper_ino = inode_of(snap.upper_dir);
    const ino_t file_ino = inode_of(snap.upper_dir + "/etc/hello");

    LayerInfo l = store.layers().commit("build-1");
    CHECK(l.diff_dir == root.path() + "/layers/" + l.chain_id.hex() + "/diff");
    CHECK(l.chain_id == l.diff_id);
    CHECK_FALSE(l.parent);
    CHECK(l.size > 0);
    CHECK(kiln::read_file(l.diff_dir + "/etc/hello") == "world");
    // Moved, not copied.
    CHECK(inode_of(l.diff_dir) == upper_ino);
    CHECK(inode_of(l.diff_dir + "/etc/hello") == file_ino);
    CHECK_FALSE(kiln::path_exists(dir));
    CHECK(store.layers().snapshots().empty());
    // The short link resolves to the diff dir.
    std::string short_id = kiln::read_file(root.path() + "/layers/" + l.chain_id.hex() + "/link");
    short_id.pop_back();
    CHECK(std::regex_match(short_id, std::regex("[A-Z0-9]{12}")));
    CHECK(kiln::read_file(root.path() + "/l/" + short_id + "/etc/hello") == "world");
    // The diffID is the canonical tar's digest.
    CHECK(kiln::image::write_layer_tar(l.diff_dir, {}).digest == l.diff_id);
    REQUIRE(store.layers().get(l.chain_id));
    CHECK(store.layers().walk().size() == 1);
    CHECK(kiln::image::list_dir_names(root.path() + "/tmp").empty());
}

TEST_CASE("committing the same content twice gives the same layer", "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    Store store(root.path());
    LayerInfo a = make_layer(store, "a", std::nullopt, "f", "same");
    LayerInfo b = make_layer(store, "b", std::nullopt, "f", "same");
    CHECK(a.chain_id == b.chain_id);
    CHECK(store.layers().walk().size() == 1);
    CHECK(store.layers().snapshots().empty());
    CHECK(kiln::image::list_dir_names(root.path() + "/l").size() == 2);  // empty + one link
}

TEST_CASE_METHOD(TwoLayers, "stacked layers: lowerdirs are topmost first, chain is bottom first",
          "[store][layers]") {
    CHECK(l2.parent == l1.chain_id);
    CHECK(l2.chain_id == kiln::image::chain_id(l1.chain_id, l2.diff_id));
    auto chain = store.layers().chain(l2.chain_id);
    REQUIRE(chain.size() == 2);
    CHECK(chain[0].chain_id == l1.chain_id);
    CHECK(chain[1].chain_id == l2.chain_id);

    auto snap = store.layers().prepare("s3", l2.chain_id);
    auto lowers = snap.mount.options.substr(0, snap.mount.options.find(','));
    std::smatch m;
    REQUIRE(std::regex_match(lowers, m, std::regex("lowerdir=l/([A-Z0-9]{12}):l/([A-Z0-9]{12})")));
    CHECK(kiln::path_exists(root.path() + "/l/" + m[1].str() + "/two"));
    CHECK(kiln::path_exists(root.path() + "/l/" + m[2].str() + "/one"));
    CHECK_THROWS_WITH(store.layers().prepare("s4", kiln::sha256_of("nope")), Catch::Contains("does not exist"));

    auto none = store.layers().view(std::nullopt);
    CHECK(none.type == "bind");
    CHECK(none.source == root.path() + "/l/empty");
    CHECK(none.readonly);
    auto one = store.layers().view(l1.chain_id);
    CHECK(one.type == "bind");
    CHECK(kiln::path_exists(one.source + "/one"));
    auto two = store.layers().view(l2.chain_id);
    CHECK(two.type == "overlay");
    CHECK(two.readonly);
    CHECK(two.options == lowers);
    store.layers().remove("s3");
    CHECK(store.layers().snapshots().empty());
}

TEST_CASE("a 120-layer chain fits its overlay options in one page", "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    Store store(root.path());
    std::optional<Digest> top;
    for (int i = 0; i < 120; ++i)
        top = make_layer(store, "k" + std::to_string(i), top, "f" + std::to_string(i), std::to_string(i)).chain_id;
    CHECK(store.layers().chain(*top).size() == 120);
    auto snap = store.layers().prepare("top", top);
    CHECK(snap.mount.options.size() < 4096);
    CHECK(std::regex_match(snap.mount.options,
                           std::regex("lowerdir=(l/[A-Z0-9]{12}:){119}l/[A-Z0-9]{12},upperdir=/[^,:]+/upper,"
                                      "workdir=/[^,:]+/work")));
    auto view = store.layers().view(top);
    CHECK(view.options.size() < 4096);
}

TEST_CASE_METHOD(TwoLayers, "remove_layer refuses layers in use", "[store][layers]") {
    CHECK_FALSE(store.layers().remove_layer(l1.chain_id));  // has a child
    store.layers().prepare("busy", l2.chain_id);
    CHECK_FALSE(store.layers().remove_layer(l2.chain_id));  // a snapshot sits on it
    store.layers().remove("busy");
    CHECK(store.layers().remove_layer(l2.chain_id));
    CHECK_FALSE(kiln::path_exists(root.path() + "/layers/" + l2.chain_id.hex()));
    CHECK(store.layers().remove_layer(l1.chain_id));
    CHECK(store.layers().walk().empty());
    CHECK(kiln::image::list_dir_names(root.path() + "/l") == std::vector<std::string>{"empty"});
    CHECK_FALSE(store.layers().remove_layer(l1.chain_id));
}

TEST_CASE_METHOD(TwoLayers, "gc keeps layers reachable from cache entries and spares fresh ones",
          "[store][layers]") {
    LayerInfo other = make_layer(store, "s3", std::nullopt, "x", "x");
    CHECK(store.layers().gc().empty());  // all too fresh
    store.db().cache_put("step", l2.chain_id.str());
    auto removed = store.layers().gc(0);
    CHECK(removed == std::vector<Digest>{other.chain_id});
    store.db().cache_delete("step");
    CHECK(store.layers().gc(0).size() == 2);
    CHECK(store.layers().walk().empty());
}

TEST_CASE("apply_tar imports a layer stream", "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    kiln::TempDir src("/tmp", "kiln-ls-src-");
    kiln::mkdir_p(src.path() + "/usr/bin");
    kiln::atomic_write(src.path() + "/usr/bin/tool", "#!/bin/sh\n", 0755);
    std::string tar;
    auto stats = kiln::image::write_layer_tar(
        src.path(), [&](const void* p, std::size_t n) { tar.append(static_cast<const char*>(p), n); });
    kiln::TempDir tars("/tmp", "kiln-ls-tar-");
    const std::string tar_path = tars.path() + "/layer.tar";
    kiln::atomic_write(tar_path, tar);
    kiln::UniqueFd fd(::open(tar_path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);

    Store store(root.path());
    LayerInfo l = store.layers().apply_tar(fd.get(), std::nullopt);
    CHECK(l.diff_id == stats.digest);
    CHECK(l.size == stats.size);
    CHECK(kiln::read_file(l.diff_dir + "/usr/bin/tool") == "#!/bin/sh\n");
    CHECK(kiln::image::list_dir_names(root.path() + "/tmp").empty());
}

TEST_CASE("a crashed process leaves the store valid", "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    Digest chain;
    {
        Store store(root.path());
        chain = make_layer(store, "base", std::nullopt, "f", "base").chain_id;
        // Leftovers of a kill -9: a half-written blob and staging dir in tmp/, a snapshot
        // whose owner is gone (its lock dies with the LayerStore).
        kiln::atomic_write(root.path() + "/tmp/blob-XXcrash", "half a blo");
        kiln::mkdir_p(root.path() + "/tmp/layer-XXcrash/diff");
        store.layers().prepare("orphan", chain);
        // Another process's snapshot in progress: locked, must survive.
    }
    Store other(root.path());
    auto live = other.layers().prepare("live", chain);
    {
        Store reopened(root.path());
        // The dead snapshot is gone, the live one stays; young tmp leftovers are ignored.
        CHECK(reopened.layers().snapshots() == std::vector<std::string>{"live"});
        CHECK(reopened.layers().get(chain));
        CHECK(reopened.content().put("x") == kiln::sha256_of("x"));
        CHECK_FALSE(reopened.content().has(kiln::sha256_of("half a blo")));
        // Its chain can be removed only once the live snapshot is gone.
        CHECK_FALSE(reopened.layers().remove_layer(chain));
    }
    kiln::atomic_write(live.upper_dir + "/new", "n");
    auto l = other.layers().commit("live");
    CHECK(l.parent == chain);
}

TEST_CASE("a layer dir published before its row is adopted", "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    Store store(root.path());
    LayerInfo l = make_layer(store, "a", std::nullopt, "f", "content");
    // Simulate a crash between the rename into layers/ and the database insert.
    store.db().delete_layer(l.chain_id);
    CHECK_FALSE(store.layers().get(l.chain_id));
    LayerInfo again = make_layer(store, "b", std::nullopt, "f", "content");
    CHECK(again.chain_id == l.chain_id);
    CHECK(kiln::read_file(again.diff_dir + "/f") == "content");
    CHECK(store.layers().walk().size() == 1);
}

TEST_CASE_METHOD(TwoLayers, "a lease keeps a chain alive until released", "[store][layers]") {
    store.db().lease_add("container:abc", l2.chain_id);
    CHECK_FALSE(store.layers().remove_layer(l2.chain_id));
    CHECK(store.layers().gc(0).empty());
    CHECK(store.layers().release_chain(l2.chain_id).empty());
    store.db().lease_release("container:abc");
    CHECK(store.layers().release_chain(l2.chain_id) == std::vector<Digest>{l2.chain_id, l1.chain_id});
}

TEST_CASE("two processes committing the same layer at once end with one layer",
          "[store][layers]") {
    kiln::TempDir root("/tmp", "kiln-ls-test-");
    { Store init(root.path()); }
    const int kRounds = 10;
    auto worker = [&](const std::string& who) {
        // A fresh Store per process: SQLite connections must not cross fork().
        Store store(root.path());
        for (int i = 0; i < kRounds; ++i) make_layer(store, who + std::to_string(i), std::nullopt, "f", std::to_string(i));
    };
    pid_t child = ::fork();
    if (child == 0) {
        try {
            worker("child");
            ::_exit(0);
        } catch (...) {
            ::_exit(1);
        }
    }
    worker("parent");
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    Store store(root.path());
    CHECK(store.layers().walk().size() == kRounds);
    CHECK(kiln::image::list_dir_names(root.path() + "/layers").size() == kRounds);
    CHECK(kiln::image::list_dir_names(root.path() + "/l").size() == kRounds + 1);
    CHECK(store.layers().snapshots().empty());
}
