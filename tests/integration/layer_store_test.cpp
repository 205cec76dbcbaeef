#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include "image/store.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::image::MountSpec;
using kiln::image::Store;

namespace {

bool file_is(const std::string& path, const std::string& content) {
    try {
        return kiln::read_file(path) == content;
    } catch (...) {
        return false;
    }
}

// Runs check in a forked child inside a private mount namespace with spec mounted at
// target, so the mount disappears with the child whatever happens. Returns the child's
// exit code: 0 = mounted and check passed, 100+ = a setup step failed.
int in_mount(const MountSpec& spec, const std::string& target, const std::function<bool()>& check) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0) ::_exit(100);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(101);
        // The runtime does the same: relative l/<short> lowerdirs resolve from base_dir.
        if (::chdir(spec.base_dir.c_str()) != 0) ::_exit(102);
        unsigned long flags = spec.readonly ? MS_RDONLY : 0;
        if (spec.type == "bind") {
            if (::mount(spec.source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(103);
            if (spec.readonly &&
                ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
                ::_exit(104);
        } else if (::mount(spec.source.c_str(), target.c_str(), spec.type.c_str(), flags,
                           spec.options.c_str()) != 0) {
            ::_exit(105);
        }
        ::_exit(check() ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

}  // namespace

TEST_CASE("layer store: a 120-layer overlay mounts and shows every layer", "[store][integration]") {
    if (::geteuid() != 0) {
        WARN("skipped: mounting overlay needs root");
        return;
    }
    kiln::TempDir root("/tmp", "kiln-ls-integ-");
    Store store(root.path() + "/store");
    std::optional<Digest> top;
    for (int i = 0; i < 120; ++i) {
        auto snap = store.layers().prepare("l" + std::to_string(i), top);
        std::ofstream(snap.upper_dir + "/f" + std::to_string(i)) << i;
        if (i == 0) std::ofstream(snap.upper_dir + "/gone") << "bottom";
        if (i == 0) std::ofstream(snap.upper_dir + "/shadowed") << "old";
        if (i == 60) std::ofstream(snap.upper_dir + "/shadowed") << "new";
        // An overlay whiteout (0/0 char device) hides the bottom layer's file.
        if (i == 119) REQUIRE(::mknod((snap.upper_dir + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
        top = store.layers().commit("l" + std::to_string(i)).chain_id;
    }
    const std::string target = root.path() + "/mnt";
    kiln::mkdir_p(target);

    auto snap = store.layers().prepare("rw", top);
    REQUIRE(snap.mount.options.size() < 4096);
    int rc = in_mount(snap.mount, target, [&] {
        bool ok = file_is(target + "/f0", "0") && file_is(target + "/f119", "119") &&
                  file_is(target + "/shadowed", "new") && !kiln::path_exists(target + "/gone");
        std::ofstream(target + "/written") << "by the container";
        return ok;
    });
    CHECK(rc == 0);
    // The write landed in the upper dir, and committing it makes the 121st layer.
    CHECK(file_is(snap.upper_dir + "/written", "by the container"));
    auto layer = store.layers().commit("rw");
    CHECK(file_is(layer.diff_dir + "/written", "by the container"));
    CHECK(store.layers().chain(layer.chain_id).size() == 121);

    auto view = store.layers().view(layer.chain_id);
    rc = in_mount(view, target, [&] {
        // Read-only: a write must fail.
        bool ro = ::open((target + "/x").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS;
        return ro && file_is(target + "/f0", "0") && file_is(target + "/written", "by the container");
    });
    CHECK(rc == 0);
}

TEST_CASE("layer store: a view of one layer is a read-only bind", "[store][integration]") {
    if (::geteuid() != 0) {
        WARN("skipped: mounting needs root");
        return;
    }
    kiln::TempDir root("/tmp", "kiln-ls-integ-");
    Store store(root.path() + "/store");
    auto snap = store.layers().prepare("one", std::nullopt);
    std::ofstream(snap.upper_dir + "/hello") << "hi";
    auto layer = store.layers().commit("one");
    const std::string target = root.path() + "/mnt";
    kiln::mkdir_p(target);
    auto view = store.layers().view(layer.chain_id);
    REQUIRE(view.type == "bind");
    CHECK(in_mount(view, target, [&] { return file_is(target + "/hello", "hi"); }) == 0);
    // Over nothing: prepare's overlay uses the empty lower.
    auto empty = store.layers().prepare("empty", std::nullopt);
    CHECK(in_mount(empty.mount, target, [&] {
              std::ofstream(target + "/new") << "x";
              return kiln::path_exists(target + "/new") && !kiln::path_exists(target + "/hello");
          }) == 0);
}
