#include <catch2/catch.hpp>

#include "runtime/detach_keys.hpp"
#include "util/error.hpp"

using kiln::runtime::DetachKeyMatcher;
using kiln::runtime::parse_detach_keys;

TEST_CASE("detach keys parse as docker's: ctrl-LETTER, ctrl-symbols and single characters", "[runtime][attach]") {
    CHECK(parse_detach_keys(kiln::runtime::default_detach_keys) == std::string("\x10\x11"));
    CHECK(parse_detach_keys("ctrl-a,x,ctrl-z") == std::string("\x01x\x1a"));
    CHECK(parse_detach_keys("ctrl-@") == std::string(1, '\0'));
    CHECK(parse_detach_keys("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == std::string("\x1b\x1c\x1d\x1e\x1f"));
    for (const char* bad : {"", "ctrl-", "ctrl-ab", "ctrl-1", "ab", "a,,b", "a,", "ctrl-A"})
        CHECK_THROWS_WITH(parse_detach_keys(bad), "Invalid detach keys (" + std::string(bad) + ") provided");
}

TEST_CASE("the detach matcher holds back a partial sequence and passes it on when it does not go on", "[runtime][attach]") {
    bool detached = false;
    DetachKeyMatcher m("\x10\x11");
    CHECK(m.feed("ab", detached) == "ab");
    CHECK_FALSE(detached);
    CHECK(m.feed("x\x10", detached) == "x");  // held: the next byte decides
    CHECK_FALSE(detached);
    CHECK(m.feed("y", detached) == "\x10y");
    CHECK(m.feed("\x10\x10", detached) == "\x10");  // the second ^P may start the sequence
    CHECK(m.feed("\x11tail", detached) == "");
    CHECK(detached);
    // Split over reads, and a single key.
    DetachKeyMatcher split("abc");
    CHECK(split.feed("za", detached) == "z");
    CHECK(split.feed("b", detached) == "");
    CHECK_FALSE(detached);
    CHECK(split.feed("c", detached) == "");
    CHECK(detached);
    DetachKeyMatcher one("q");
    CHECK(one.feed("pq", detached) == "p");
    CHECK(detached);
    DetachKeyMatcher none("");
    CHECK(none.feed("\x10\x11", detached) == "\x10\x11");
    CHECK_FALSE(detached);
}
