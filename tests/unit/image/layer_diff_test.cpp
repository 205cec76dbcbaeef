#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/layer_diff.hpp"
#include "util/fs.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

LayerEntry dir(const std::string& path) { return {path, EntryKind::directory, 0}; }
LayerEntry file(const std::string& path, std::uint64_t size) { return {path, EntryKind::file, size}; }
LayerEntry whiteout(const std::string& path) { return {path, EntryKind::whiteout, 0}; }
LayerEntry opaque(const std::string& path) { return {path, EntryKind::opaque_directory, 0}; }

std::vector<std::string> letters(const LayerChanges& changes) {
    std::vector<std::string> out;
    for (const auto& c : changes.changes) out.push_back(std::string(1, c.kind) + " " + c.path);
    return out;
}

}  // namespace

TEST_CASE("layer changes letter each path and charge hidden bytes to the layer that wrote them", "[image][diff]") {
    std::vector<std::vector<LayerEntry>> stack{
        {dir("/etc"), file("/etc/a", 100), file("/etc/b", 50), dir("/opt"), file("/opt/o1", 7), dir("/opt/sub"),
         file("/opt/sub/s", 3)},
        {dir("/etc"), file("/etc/a", 120), whiteout("/etc/b"), file("/new", 5), whiteout("/never-there")},
        {whiteout("/etc/a"), opaque("/opt"), file("/opt/o2", 1), whiteout("/new"), dir("/opt/sub")},
    };
    auto changes = layer_changes(stack);
    REQUIRE(changes.size() == 3);
    CHECK(letters(changes[0]) == std::vector<std::string>{"A /etc", "A /etc/a", "A /etc/b", "A /opt", "A /opt/o1",
                                                          "A /opt/sub", "A /opt/sub/s"});
    CHECK(letters(changes[1]) == std::vector<std::string>{"C /etc", "C /etc/a", "D /etc/b", "A /new"});
    // The opaque /opt hides o1 and sub/s; sub comes back as a directory of this layer.
    CHECK(letters(changes[2]) == std::vector<std::string>{"D /etc/a", "D /new", "C /opt", "D /opt/o1", "A /opt/o2",
                                                          "C /opt/sub", "D /opt/sub/s"});
    CHECK(changes[0].written_bytes == 160);
    CHECK(changes[0].wasted_bytes == 100 + 50 + 7 + 3);
    CHECK(changes[1].written_bytes == 125);
    CHECK(changes[1].wasted_bytes == 120 + 5);
    CHECK(changes[2].wasted_bytes == 0);
    CHECK(changes[1].changes[2].size == 50);  // a delete says how much it hid
}

TEST_CASE("a file replacing a directory hides everything below it", "[image][diff]") {
    auto changes = layer_changes({{dir("/x"), file("/x/y", 9)}, {file("/x", 1)}});
    CHECK(letters(changes[1]) == std::vector<std::string>{"C /x"});
    CHECK(changes[0].wasted_bytes == 9);
}

TEST_CASE("scan_layer reads an overlay layer dir, whiteouts and opaque dirs too", "[image][diff]") {
    TempDir layer("/tmp", "kiln-diff-test-");
    mkdir_p(layer.path() + "/etc/deep");
    atomic_write(layer.path() + "/etc/deep/file", "12345");
    REQUIRE(::symlink("deep/file", (layer.path() + "/etc/link").c_str()) == 0);
    bool privileged = ::geteuid() == 0 &&
                      ::mknod((layer.path() + "/gone").c_str(), S_IFCHR | 0000, makedev(0, 0)) == 0 &&
                      ::setxattr((layer.path() + "/etc").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0;
    auto entries = scan_layer(layer.path());
    std::vector<std::string> paths;
    for (const auto& e : entries) paths.push_back(e.path);
    if (privileged) {
        CHECK(paths == std::vector<std::string>{"/etc", "/etc/deep", "/etc/deep/file", "/etc/link", "/gone"});
        CHECK(entries[0].kind == EntryKind::opaque_directory);
        CHECK(entries[4].kind == EntryKind::whiteout);
    } else {
        CHECK(paths == std::vector<std::string>{"/etc", "/etc/deep", "/etc/deep/file", "/etc/link"});
    }
    CHECK(entries[2].kind == EntryKind::file);
    CHECK(entries[2].size == 5);
    CHECK(entries[3].kind == EntryKind::symlink);
}
