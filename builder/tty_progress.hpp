#pragma once
// BuildKit's live progress on a terminal: a "[+] Building 3.2s (4/7)" header, one line per
// step with its timer at the right edge, the running steps' last lines of output below
// them, redrawn in place at most every 100 ms. The last frame stays on the screen.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace kiln::builder {

struct StepView {
    enum class State { running, done, cached, failed, cancelled };
    std::string heading;
    State state = State::running;
    std::chrono::steady_clock::time_point started;
    double seconds = 0;               // once finished
    std::vector<std::string> notes;   // "=> => note" lines, kept when the step ends
    std::deque<std::string> tail;     // the last output lines, shown while it runs
};

struct FrameSize {
    int width = 80;
    int height = 0;  // 0: no limit (the last frame, or a size that cannot be read)
};

// The lines of one frame, none wider than size.width - 1 columns (a line that reaches
// the last column would wrap on some terminals and break the redraw), and no more than
// size.height - 1 of them: the header and the newest lines. Text from a RUN is printed
// without its control characters, so no step can move the cursor or retitle the terminal.
std::vector<std::string> render_frame(const std::vector<StepView>& steps, double elapsed, bool finished,
                                      std::chrono::steady_clock::time_point now, FrameSize size);

// Output lines kept per running step.
inline constexpr std::size_t kViewTailLines = 6;

class TtyProgressView {
public:
    // fd: the terminal `out` writes to, asked for its size at every frame.
    TtyProgressView(std::ostream& out, int fd);
    // Draws the last frame (every step, no height limit) and stops redrawing.
    ~TtyProgressView();
    TtyProgressView(const TtyProgressView&) = delete;
    TtyProgressView& operator=(const TtyProgressView&) = delete;

    // Steps are numbered from 1 in the order they begin.
    void begin(int step, std::string heading);
    void finish(int step, StepView::State state);
    void note(int step, std::string_view text);
    void output(int step, std::string_view line);
    // Runs f with the frame erased and redrawing held, for what writes to the terminal
    // itself (a pull's progress); the frame comes back below what f wrote.
    void without_frame(const std::function<void()>& f);

private:
    void loop();
    void draw_locked(bool last);
    StepView* find_locked(int step);

    std::ostream& out_;
    const int fd_;
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<StepView> steps_;
    int drawn_lines_ = 0;
    bool stopping_ = false;
    std::thread redraw_;
};

}  // namespace kiln::builder
