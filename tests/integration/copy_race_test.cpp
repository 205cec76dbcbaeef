// COPY from a context whose owner swaps a folder for a symlink to a host folder while the
// build reads it (the shape of the symlink races against docker cp, CVE-2018-15664): what
// lands in the image comes from the context, never from the host folder.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "harness.hpp"
#include "util/fs.hpp"

using kiln::test::import_base;
using kiln::test::Kiln;

TEST_CASE("COPY reads a context folder swapped for a symlink to the host mid-build only from the context",
          "[integration][build][copy][escape]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    import_base(kiln);
    kiln::TempDir work{"/tmp", "kiln-it-copyrace-"};
    const std::string host = work.path() + "/host", ctx = work.path() + "/ctx";
    kiln::mkdir_p(host);
    kiln::mkdir_p(ctx + "/d");
    kiln::atomic_write(ctx + "/Dockerfile", "FROM localhost/busybox\nCOPY . /ctx/\n");
    for (int i = 0; i < 2000; ++i) {
        const std::string name = "f" + std::to_string(i) + ".txt";
        kiln::atomic_write(ctx + "/d/" + name, "from the context\n");
        kiln::atomic_write(host + "/" + name, "HOST-SECRET\n");
    }

    std::atomic<bool> stop{false};
    std::atomic<int> swaps{0};
    // The folder and a symlink to the host's trade places atomically (RENAME_EXCHANGE), so
    // "d" always exists: a reader that follows the link gets the host's files, and a
    // build that does succeeds with them.
    const std::string link_abs = ctx + "/link-abs", link_rel = ctx + "/link-rel", dir = ctx + "/d";
    REQUIRE(::symlink(host.c_str(), link_abs.c_str()) == 0);
    REQUIRE(::symlink("../host", link_rel.c_str()) == 0);
    kiln::atomic_write(ctx + "/.dockerignore", "link-abs\nlink-rel\n");
    std::thread racer([&] {
        while (!stop) {
            // Absolute and relative ("../host": out of the context's root) by turns.
            const std::string& link = swaps % 2 ? link_abs : link_rel;
            if (::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) != 0) continue;
            std::this_thread::yield();
            ::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
            ++swaps;
        }
    });
    int built = 0;
    std::string last_failure;
    for (int round = 0; round < 4; ++round) {
        const std::string tag = "localhost/copyrace:" + std::to_string(round);
        auto r = kiln({"build", "-q", "--no-cache", "-t", tag, ctx});
        // A build that met the link or a missing folder may fail; one that succeeded must
        // hold nothing of the host's.
        if (r.exit_code != 0) {
            last_failure = r.err;
            continue;
        }
        ++built;
        auto grep = kiln({"run", "--rm", "--network", "none", tag, "sh", "-c", "grep -rl HOST-SECRET /ctx; true"});
        INFO(grep.out << grep.err);
        CHECK(grep.exit_code == 0);
        CHECK(grep.out.empty());
    }
    stop = true;
    racer.join();
    INFO("swaps " << swaps << ", builds that succeeded " << built << ", last failure: " << last_failure);
    CHECK(swaps > 0);
}
