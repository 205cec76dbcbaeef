#include <catch2/catch.hpp>

#include "runtime/monitor/attach_protocol.hpp"

using kiln::runtime::attach::append_frame;
using kiln::runtime::attach::Frame;
using kiln::runtime::attach::FrameReader;

TEST_CASE("attach frames survive any split and an oversized frame breaks the reader", "[runtime][attach]") {
    std::string wire;
    append_frame(wire, Frame::stdout_data, "hello");
    append_frame(wire, Frame::exited, "");
    append_frame(wire, Frame::stdin_data, std::string(300, 'x'));
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, wire.size()}) {
        FrameReader reader;
        std::vector<std::pair<Frame, std::string>> got;
        for (std::size_t at = 0; at < wire.size(); at += step) {
            reader.feed(std::string_view(wire).substr(at, step));
            while (auto f = reader.next()) got.push_back(*f);
        }
        REQUIRE(got.size() == 3);
        CHECK(got[0] == std::pair<Frame, std::string>{Frame::stdout_data, "hello"});
        CHECK(got[1] == std::pair<Frame, std::string>{Frame::exited, ""});
        CHECK(got[2].second == std::string(300, 'x'));
        CHECK_FALSE(reader.broken());
    }
    FrameReader hostile;
    hostile.feed(std::string("i\xff\xff\xff\x7f", 5));
    CHECK_FALSE(hostile.next());
    CHECK(hostile.broken());
}
