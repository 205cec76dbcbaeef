#include "builder/tty_progress.hpp"

#include <sys/ioctl.h>
#include <termios.h>

#include <algorithm>

#include <fmt/format.h>

namespace kiln::builder {

namespace {

using Clock = std::chrono::steady_clock;

// The length of the UTF-8 sequence led by c, 0 when c cannot lead one.
std::size_t sequence_length(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c >= 0xe0 && c <= 0xef) return 3;
    if (c >= 0xf0 && c <= 0xf4) return 4;
    return 0;
}

// text as a list of printable characters (each a UTF-8 sequence): C0 and C1 controls and
// the escape sequences they start are dropped, a tab is a space, broken UTF-8 is '?'.
std::vector<std::string_view> printable(std::string_view text) {
    std::vector<std::string_view> chars;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == 0x1b) {
            ++i;
            if (i < text.size() && text[i] == '[') {  // CSI: parameters up to a final byte
                ++i;
                while (i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7e)) ++i;
                ++i;
            } else if (i < text.size() && text[i] == ']') {  // OSC: up to BEL or ESC '\'
                while (i < text.size() && text[i] != '\a' && text[i] != 0x1b) ++i;
                if (i < text.size() && text[i] == 0x1b) ++i;
                ++i;
            } else {
                ++i;
            }
            continue;
        }
        if (c == '\t') {
            chars.emplace_back(" ");
            ++i;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            ++i;
            continue;
        }
        std::size_t n = sequence_length(c);
        bool valid = n > 0 && i + n <= text.size();
        for (std::size_t k = 1; valid && k < n; ++k)
            valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
        if (!valid) {
            chars.emplace_back("?");
            ++i;
            continue;
        }
        // U+0080..U+009F, the C1 controls (CSI among them), are two bytes: C2 80..C2 9F.
        if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
            i += 2;
            continue;
        }
        chars.push_back(text.substr(i, n));
        i += n;
    }
    return chars;
}

// text cleaned and cut to at most `columns` characters (one column each).
std::string fit(std::string_view text, std::size_t columns) {
    auto chars = printable(text);
    if (chars.size() > columns) chars.resize(columns);
    std::string out;
    for (auto c : chars) out.append(c);
    return out;
}

std::size_t columns_of(std::string_view text) { return printable(text).size(); }

// "left ... right" across `columns`, the left side cut where both do not fit.
std::string spread(std::string_view left, const std::string& right, std::size_t columns) {
    const std::size_t right_cols = right.size() + 1;
    if (columns <= right_cols) return fit(left, columns);
    std::string line = fit(left, columns - right_cols);
    line.append(columns - right_cols - columns_of(line) + 1, ' ');
    return line + right;
}

const char* marker(StepView::State state) {
    switch (state) {
        case StepView::State::cached: return "CACHED ";
        case StepView::State::failed: return "ERROR ";
        case StepView::State::cancelled: return "CANCELED ";
        default: return "";
    }
}

FrameSize terminal_size(int fd) {
    FrameSize size;
    struct winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        size.width = ws.ws_col;
        size.height = ws.ws_row;
    }
    return size;
}

}  // namespace

std::vector<std::string> render_frame(const std::vector<StepView>& steps, double elapsed, bool finished,
                                      Clock::time_point now, FrameSize size) {
    const std::size_t columns = static_cast<std::size_t>(std::max(size.width - 1, 10));
    const auto done = std::count_if(steps.begin(), steps.end(),
                                    [](const StepView& s) { return s.state != StepView::State::running; });
    std::vector<std::string> lines;
    lines.push_back(fit(fmt::format("[+] Building {:.1f}s ({}/{}){}", elapsed, done, steps.size(),
                                    finished ? " FINISHED" : ""),
                        columns));
    for (const auto& step : steps) {
        const bool running = step.state == StepView::State::running;
        const double seconds = running ? std::chrono::duration<double>(now - step.started).count() : step.seconds;
        lines.push_back(spread(std::string("=> ") + marker(step.state) + step.heading,
                               fmt::format("{:.1f}s", std::max(seconds, 0.0)), columns));
        for (const auto& note : step.notes) lines.push_back(fit("=> => " + note, columns));
        if (running)
            for (const auto& line : step.tail) lines.push_back(fit("=> => # " + line, columns));
    }
    if (size.height > 1 && lines.size() > static_cast<std::size_t>(size.height - 1)) {
        const std::size_t keep = static_cast<std::size_t>(size.height - 2);
        lines.erase(lines.begin() + 1, lines.end() - static_cast<std::ptrdiff_t>(keep));
    }
    return lines;
}

TtyProgressView::TtyProgressView(std::ostream& out, int fd) : out_(out), fd_(fd) {
    redraw_ = std::thread([this] { loop(); });
}

TtyProgressView::~TtyProgressView() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    redraw_.join();
    std::lock_guard lock(mutex_);
    draw_locked(true);
}

void TtyProgressView::loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        draw_locked(false);
        // Timers move even when nothing happens: a redraw every 100 ms, and no more often.
        wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
    }
}

void TtyProgressView::draw_locked(bool last) {
    FrameSize size = terminal_size(fd_);
    if (last) size.height = 0;
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    auto lines = render_frame(steps_, elapsed, last, Clock::now(), size);
    std::string frame;
    // Back to the first line of the frame before, and everything below it erased.
    if (drawn_lines_ > 0) frame += fmt::format("\x1b[{}F", drawn_lines_);
    frame += "\x1b[J";
    for (const auto& line : lines) frame += line + "\n";
    out_ << frame;
    out_.flush();
    drawn_lines_ = static_cast<int>(lines.size());
}

StepView* TtyProgressView::find_locked(int step) {
    if (step < 1 || static_cast<std::size_t>(step) > steps_.size()) return nullptr;
    return &steps_[static_cast<std::size_t>(step - 1)];
}

void TtyProgressView::begin(int step, std::string heading) {
    std::lock_guard lock(mutex_);
    if (static_cast<std::size_t>(step) > steps_.size()) steps_.resize(static_cast<std::size_t>(step));
    StepView& view = steps_[static_cast<std::size_t>(step - 1)];
    view.heading = std::move(heading);
    view.started = Clock::now();
}

void TtyProgressView::finish(int step, StepView::State state) {
    std::lock_guard lock(mutex_);
    if (StepView* view = find_locked(step)) {
        view->state = state;
        view->seconds = std::chrono::duration<double>(Clock::now() - view->started).count();
        view->tail.clear();
    }
}

void TtyProgressView::note(int step, std::string_view text) {
    std::lock_guard lock(mutex_);
    if (StepView* view = find_locked(step)) view->notes.emplace_back(text);
}

void TtyProgressView::output(int step, std::string_view line) {
    std::lock_guard lock(mutex_);
    if (StepView* view = find_locked(step)) {
        view->tail.emplace_back(line);
        if (view->tail.size() > kViewTailLines) view->tail.pop_front();
    }
}

void TtyProgressView::without_frame(const std::function<void()>& f) {
    std::lock_guard lock(mutex_);
    if (drawn_lines_ > 0) {
        out_ << fmt::format("\x1b[{}F\x1b[J", drawn_lines_);
        out_.flush();
        drawn_lines_ = 0;
    }
    f();
    out_.flush();
    draw_locked(false);
}

}  // namespace kiln::builder
