#include <catch2/catch.hpp>

#include <sstream>

#include "cli/transfer_progress.hpp"

using kiln::cli::TransferProgress;

TEST_CASE("transfer progress off a terminal: one line per change of status, no byte counts", "[cli][progress]") {
    std::ostringstream out;
    TransferProgress p(out, false);
    p.status("aaa", "Preparing");
    p.status("bbb", "Preparing");
    p.status("aaa", "Preparing");  // unchanged: nothing
    p.progress("aaa", "Pushing", 10, 100);
    p.progress("aaa", "Pushing", 50, 100);
    p.status("aaa", "Pushed");
    p.status("bbb", "Layer already exists");
    CHECK(out.str() == "aaa: Preparing\nbbb: Preparing\naaa: Pushing\naaa: Pushed\nbbb: Layer already exists\n");
}

TEST_CASE("transfer progress on a terminal redraws each item's own line in place", "[cli][progress]") {
    std::ostringstream out;
    TransferProgress p(out, true);
    p.status("aaa", "Preparing");
    p.status("bbb", "Preparing");
    out.str("");
    p.status("aaa", "Pushed");
    // aaa is two lines up from the cursor (below bbb): up 2, clear, write, down 2.
    CHECK(out.str() == "\x1b[2A\r\x1b[2Kaaa: Pushed\x1b[2B\r");
    out.str("");
    p.progress("bbb", "Pushing", 0, 1000);
    CHECK(out.str().find("\x1b[1A\r\x1b[2Kbbb: Pushing [>") == 0);
    CHECK(out.str().find("0B/1kB") != std::string::npos);
}

TEST_CASE("transfer progress bar: fill, bytes, rate and time left", "[cli][progress]") {
    CHECK(TransferProgress::bar(0, 100, 0) == "[>" + std::string(49, ' ') + "]  0B/100B");
    CHECK(TransferProgress::bar(100, 100, 0) == "[" + std::string(50, '=') + "]  100B/100B");
    CHECK(TransferProgress::bar(100, 0, 0) == "100B");  // a blob still being made: no total yet
    const std::string half = TransferProgress::bar(5'000'000, 10'000'000, 2.0);
    CHECK(half.find("[" + std::string(25, '=') + ">") == 0);
    CHECK(half.find("5MB/10MB  2.5MB/s  2s") != std::string::npos);
}
