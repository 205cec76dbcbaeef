#include <catch2/catch.hpp>

#include <sstream>

#include "builder/tty_progress.hpp"

using kiln::builder::FrameSize;
using kiln::builder::render_frame;
using kiln::builder::StepView;
using Clock = std::chrono::steady_clock;

namespace {

StepView step(std::string heading, StepView::State state, double seconds) {
    StepView s;
    s.heading = std::move(heading);
    s.state = state;
    s.seconds = seconds;
    return s;
}

// Columns of a line as the renderer counts them: one per UTF-8 character.
std::size_t columns(const std::string& line) {
    std::size_t n = 0;
    for (unsigned char c : line) n += (c & 0xc0) != 0x80;
    return n;
}

}  // namespace

TEST_CASE("tty progress: a header, one line per step with its time at the right edge", "[tty_progress]") {
    const auto now = Clock::now();
    std::vector<StepView> steps{step("[stage-0 1/3] FROM localhost/busybox:latest", StepView::State::done, 0.01),
                                step("[stage-0 2/3] COPY . /app", StepView::State::cached, 0),
                                step("[stage-0 3/3] RUN make", StepView::State::running, 0)};
    steps[2].started = now - std::chrono::milliseconds(1500);
    steps[2].tail = {"compiling a.c", "compiling b.c"};
    auto lines = render_frame(steps, 2.04, false, now, FrameSize{60, 0});
    REQUIRE(lines.size() == 6);
    CHECK(lines[0] == "[+] Building 2.0s (2/3)");
    CHECK(lines[1].starts_with("=> [stage-0 1/3] FROM localhost/busybox:latest"));
    CHECK(lines[1].ends_with(" 0.0s"));
    CHECK(lines[2].starts_with("=> CACHED [stage-0 2/3] COPY . /app"));
    CHECK(lines[3].starts_with("=> [stage-0 3/3] RUN make"));
    CHECK(lines[3].ends_with(" 1.5s"));
    CHECK(lines[4] == "=> => # compiling a.c");
    CHECK(lines[5] == "=> => # compiling b.c");
    for (int i = 1; i <= 3; ++i) CHECK(columns(lines[static_cast<std::size_t>(i)]) == 59);
}

TEST_CASE("tty progress: a finished step's output collapses, its notes stay, the end says FINISHED",
          "[tty_progress]") {
    std::vector<StepView> steps{step("[a 1/1] RUN false", StepView::State::failed, 0.25)};
    steps[0].tail = {"kept only while running"};
    steps[0].notes = {"cache miss: the instruction changed"};
    auto lines = render_frame(steps, 0.3, true, Clock::now(), FrameSize{80, 0});
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "[+] Building 0.3s (1/1) FINISHED");
    CHECK(lines[1].starts_with("=> ERROR [a 1/1] RUN false"));
    CHECK(lines[1].ends_with(" 0.2s"));
    CHECK(lines[2] == "=> => cache miss: the instruction changed");
}

TEST_CASE("tty progress: no line reaches the terminal's last column, long text is cut", "[tty_progress]") {
    std::vector<StepView> steps{step("[s 1/1] RUN " + std::string(200, 'x'), StepView::State::running, 0)};
    steps[0].started = Clock::now();
    steps[0].tail = {std::string(300, 'y'), "h\xc3\xa9llo w\xc3\xb6rld " + std::string(100, 'z')};
    for (int width : {20, 40, 80, 132}) {
        auto lines = render_frame(steps, 0, false, Clock::now(), FrameSize{width, 0});
        for (const auto& line : lines) CHECK(columns(line) <= static_cast<std::size_t>(width - 1));
        CHECK(lines[1].ends_with("s"));  // the timer survives the cut
    }
}

TEST_CASE("tty progress: a frame taller than the terminal keeps the header and the newest lines",
          "[tty_progress]") {
    std::vector<StepView> steps;
    for (int i = 1; i <= 30; ++i)
        steps.push_back(step("[s " + std::to_string(i) + "/30] RUN true", StepView::State::done, 0.1));
    auto lines = render_frame(steps, 1, false, Clock::now(), FrameSize{80, 10});
    REQUIRE(lines.size() == 9);
    CHECK(lines[0].starts_with("[+] Building"));
    CHECK(lines[1].starts_with("=> [s 23/30]"));
    CHECK(lines[8].starts_with("=> [s 30/30]"));
    CHECK(render_frame(steps, 1, true, Clock::now(), FrameSize{80, 0}).size() == 31);
}

TEST_CASE("tty progress: a RUN's escape sequences and control characters never reach the terminal",
          "[tty_progress]") {
    std::vector<StepView> steps{step("[s 1/1] RUN evil", StepView::State::running, 0)};
    steps[0].started = Clock::now();
    steps[0].tail = {"a\x1b[2J\x1b[Hb\x1b]0;pwned\x07" "c\rd\te\x7f" "f\xc2\x9b" "31mg\xff"};
    auto lines = render_frame(steps, 0, false, Clock::now(), FrameSize{80, 0});
    REQUIRE(lines.size() == 3);
    CHECK(lines[2] == "=> => # abcd ef31mg?");
    for (const auto& line : lines)
        for (unsigned char c : line) CHECK((c >= 0x20 && c != 0x7f));
}

TEST_CASE("tty progress: the view redraws in place and leaves its last frame", "[tty_progress]") {
    std::ostringstream out;
    {
        kiln::builder::TtyProgressView view(out, -1);
        view.begin(1, "[s 1/2] FROM scratch");
        view.finish(1, StepView::State::done);
        view.begin(2, "[s 2/2] RUN echo hi");
        view.output(2, "hi");
        view.without_frame([&] { out << "pulled\n"; });
        view.finish(2, StepView::State::done);
    }
    const std::string text = out.str();
    CHECK(text.find("pulled\n") != std::string::npos);
    CHECK(text.find("\x1b[J") != std::string::npos);
    // The last frame, after the last erase, has every step and the FINISHED header.
    const std::string last = text.substr(text.rfind("\x1b[J") + 3);
    CHECK(last.find("[+] Building") == 0);
    CHECK(last.find("FINISHED") != std::string::npos);
    CHECK(last.find("=> [s 1/2] FROM scratch") != std::string::npos);
    CHECK(last.find("=> [s 2/2] RUN echo hi") != std::string::npos);
    CHECK(last.find("# hi") == std::string::npos);
}
