#include "registry/pull_progress.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using kiln::registry::LayerStatus;
using kiln::registry::progress_line;
using kiln::registry::PullEvent;
using kiln::registry::PullProgress;

namespace {

PullEvent layer(const std::string& id, LayerStatus s, std::uint64_t done = 0, std::uint64_t total = 0) {
    return PullEvent{PullEvent::Kind::Layer, {}, id, s, done, total};
}
PullEvent message(const std::string& text) {
    return PullEvent{PullEvent::Kind::Message, text, {}, LayerStatus::PullingFsLayer, 0, 0};
}

}  // namespace

TEST_CASE("pull progress: one live line with bar, bytes, rate and time left", "[registry][progress]") {
    CHECK(progress_line("abc123def456", LayerStatus::PullComplete, 0, 0, 0) == "abc123def456: Pull complete");
    CHECK(progress_line("abc123def456", LayerStatus::Downloading, 500000, 2000000, 250000, 10) ==
          "abc123def456: Downloading [==>       ]  500kB/2MB  250kB/s  6s");
    // Unknown rate: no rate and no ETA; a full bar keeps its arrowhead inside.
    CHECK(progress_line("a", LayerStatus::Downloading, 2000000, 2000000, 0, 4) == "a: Downloading [===>]  2MB/2MB");
    CHECK(progress_line("a", LayerStatus::Downloading, 100, 0, 0, 4) == "a: Downloading  100B");
    CHECK(progress_line("a", LayerStatus::Downloading, 0, 1000000, 1000, 4).ends_with("  16m40s"));
}

TEST_CASE("pull progress: plain output prints each status change once, never byte counts", "[registry][progress]") {
    std::ostringstream out;
    PullProgress p(out, false);
    p.handle(message("latest: Pulling from library/busybox"));
    p.handle(layer("aaaaaaaaaaaa", LayerStatus::AlreadyExists));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::PullingFsLayer));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::Downloading, 10, 100));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::Downloading, 50, 100));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::VerifyingChecksum));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::DownloadComplete));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::PullComplete));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::Downloading, 100, 100));  // late: ignored
    p.finish();
    CHECK(out.str() ==
          "latest: Pulling from library/busybox\n"
          "aaaaaaaaaaaa: Already exists\n"
          "bbbbbbbbbbbb: Pulling fs layer\n"
          "bbbbbbbbbbbb: Verifying Checksum\n"
          "bbbbbbbbbbbb: Download complete\n"
          "bbbbbbbbbbbb: Pull complete\n");
}

TEST_CASE("pull progress: a terminal gets the layers redrawn in place, throttled", "[registry][progress]") {
    std::ostringstream out;
    auto t = std::chrono::steady_clock::time_point{};
    PullProgress p(out, true, [&] { return t; }, std::chrono::milliseconds(100));
    p.handle(layer("aaaaaaaaaaaa", LayerStatus::PullingFsLayer));
    p.handle(layer("bbbbbbbbbbbb", LayerStatus::PullingFsLayer));
    const std::string after_two = out.str();
    // The second line redraws both: the cursor goes up one line (the one drawn before).
    CHECK(after_two == "\x1b[2Kaaaaaaaaaaaa: Pulling fs layer\n"
                       "\x1b[1A\x1b[2Kaaaaaaaaaaaa: Pulling fs layer\n\x1b[2Kbbbbbbbbbbbb: Pulling fs layer\n");
    p.handle(layer("aaaaaaaaaaaa", LayerStatus::Downloading, 1, 10));  // a change of status: drawn
    const std::string after_start = out.str();
    CHECK(after_start.size() > after_two.size());
    t += std::chrono::milliseconds(10);
    p.handle(layer("aaaaaaaaaaaa", LayerStatus::Downloading, 2, 10));  // 10 ms later: not drawn
    CHECK(out.str() == after_start);
    t += std::chrono::milliseconds(500);
    p.handle(layer("aaaaaaaaaaaa", LayerStatus::Downloading, 5, 10));
    CHECK(out.str().size() > after_start.size());
    CHECK(out.str().find("\x1b[2A") != std::string::npos);
    CHECK(out.str().find("aaaaaaaaaaaa: Downloading [") != std::string::npos);
    // A message goes above the live view, which is drawn again below it.
    p.handle(message("Digest: sha256:x"));
    const std::string all = out.str();
    auto msg = all.rfind("Digest: sha256:x\n");
    REQUIRE(msg != std::string::npos);
    CHECK(all.find("bbbbbbbbbbbb: Pulling fs layer", msg) != std::string::npos);
}
