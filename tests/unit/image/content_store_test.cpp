#include <catch2/catch.hpp>

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include "image/content_store.hpp"
#include "image/staging.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using kiln::Digest;
using kiln::image::ContentStore;
using kiln::image::list_dir_names;

TEST_CASE("content store put, read, has, remove", "[store][content]") {
    kiln::TempDir root("/tmp", "kiln-cs-test-");
    ContentStore cs(root.path());
    Digest dg = cs.put("hello");
    CHECK(dg == kiln::sha256_of("hello"));
    CHECK(cs.has(dg));
    CHECK(cs.path(dg) == root.path() + "/blobs/sha256/" + dg.hex());
    CHECK(cs.read(dg) == "hello");
    CHECK(cs.size(dg) == 5u);
    CHECK(cs.put("hello") == dg);  // idempotent
    CHECK(cs.remove(dg));
    CHECK_FALSE(cs.remove(dg));
    CHECK_FALSE(cs.has(dg));
    CHECK_THROWS_WITH(cs.read(dg), Catch::Contains("not found"));
    CHECK(list_dir_names(root.path() + "/tmp").empty());
}

TEST_CASE("content store verifies streamed blobs and leaves nothing behind on mismatch",
          "[store][content]") {
    kiln::TempDir root("/tmp", "kiln-cs-test-");
    ContentStore cs(root.path());
    std::string data(200000, 'x');
    kiln::atomic_write(root.path() + "/src", data);
    auto stream = [&] { return kiln::UniqueFd(::open((root.path() + "/src").c_str(), O_RDONLY | O_CLOEXEC)); };
    {
        auto fd = stream();
        CHECK(cs.put_stream(fd.get(), kiln::sha256_of(data)) == kiln::sha256_of(data));
        CHECK(cs.has(kiln::sha256_of(data)));
    }
    {
        auto fd = stream();
        Digest wrong = kiln::sha256_of("something else");
        CHECK_THROWS_WITH(cs.put_stream(fd.get(), wrong), Catch::Contains("digest mismatch"));
        CHECK_FALSE(cs.has(wrong));
    }
    CHECK(list_dir_names(root.path() + "/tmp").empty());
    CHECK(list_dir_names(root.path() + "/blobs/sha256").size() == 1);
}

TEST_CASE("content store writer: abandoned writes vanish", "[store][content]") {
    kiln::TempDir root("/tmp", "kiln-cs-test-");
    ContentStore cs(root.path());
    {
        auto w = cs.writer();
        w.write("partial");
        CHECK(list_dir_names(root.path() + "/tmp").size() == 1);
    }
    CHECK(list_dir_names(root.path() + "/tmp").empty());
    CHECK(list_dir_names(root.path() + "/blobs/sha256").empty());
    auto w = cs.writer();
    w.write("ab");
    w.write("c");
    CHECK(w.size() == 3);
    CHECK(w.commit() == kiln::sha256_of("abc"));
    CHECK_THROWS(w.commit());
}

TEST_CASE("content store read checks size limit and integrity", "[store][content]") {
    kiln::TempDir root("/tmp", "kiln-cs-test-");
    ContentStore cs(root.path());
    Digest dg = cs.put("0123456789");
    CHECK_THROWS_WITH(cs.read(dg, 5), Catch::Contains("limit"));
    // Corrupt the blob behind the store's back.
    ::unlink(cs.path(dg).c_str());
    kiln::atomic_write(cs.path(dg), "012345678X");
    CHECK_THROWS_WITH(cs.read(dg), Catch::Contains("corrupt"));
}

TEST_CASE("stale staging entries are removed only when unlocked", "[store][content]") {
    kiln::TempDir root("/tmp", "kiln-cs-test-");
    const std::string tmp = root.path() + "/tmp";
    kiln::mkdir_p(tmp);
    kiln::image::StagingFile held(tmp, "held-");
    kiln::image::StagingDir held_dir(tmp, "helddir-");
    kiln::atomic_write(tmp + "/crashed-blob", "half");
    kiln::mkdir_p(tmp + "/crashed-dir/sub");
    kiln::image::remove_stale_entries(tmp, 0);
    auto names = list_dir_names(tmp);
    REQUIRE(names.size() == 2);
    CHECK(names[0].rfind("held-", 0) == 0);
    CHECK(names[1].rfind("helddir-", 0) == 0);
    // A fresh entry is spared by the age check even when unlocked.
    kiln::atomic_write(tmp + "/fresh", "x");
    kiln::image::remove_stale_entries(tmp, 60);
    CHECK(kiln::path_exists(tmp + "/fresh"));

    // A spared entry is never touched, nor its release asked for; the others go as before.
    kiln::mkdir_p(tmp + "/kept-dir");
    kiln::mkdir_p(tmp + "/stale-dir");
    std::vector<std::string> released;
    kiln::image::remove_stale_entries(
        tmp, 0,
        [&](const std::string& name) {
            released.push_back(name);
            return true;
        },
        [](const std::string& name) { return name == "kept-dir"; });
    CHECK(kiln::path_exists(tmp + "/kept-dir"));
    CHECK_FALSE(kiln::path_exists(tmp + "/stale-dir"));
    CHECK(std::find(released.begin(), released.end(), "kept-dir") == released.end());
    CHECK(std::find(released.begin(), released.end(), "stale-dir") != released.end());
}

TEST_CASE("a content store writer for bytes the caller verifies commits under the caller's digest",
          "[store][content]") {
    kiln::TempDir root("/tmp", "kiln-cs-test-");
    ContentStore cs(root.path());
    // Large enough to cross the staging file's writeback stretches.
    const std::string data((9u << 20) + 5, 'v');
    {
        auto w = cs.writer_verified_by_caller();
        for (std::size_t at = 0; at < data.size(); at += 1u << 20) w.write(std::string_view(data).substr(at, 1u << 20));
        CHECK(w.size() == data.size());
        CHECK_THROWS_WITH(w.finish(), Catch::Contains("no digest of its own"));
        CHECK(w.commit(kiln::sha256_of(data)) == kiln::sha256_of(data));
    }
    CHECK(cs.read(kiln::sha256_of(data), data.size()) == data);
    {
        auto w = cs.writer_verified_by_caller();
        w.write("x");
        CHECK_THROWS_WITH(w.commit(), Catch::Contains("needs its digest"));
    }
    CHECK(list_dir_names(root.path() + "/tmp").empty());
}
