#pragma once
// A build's progress in BuildKit's plain format, written by every stage building at once:
// "#N [stage n/total] INSTRUCTION", a RUN's output as "#N 0.123 line", then "#N DONE 0.4s",
// "#N CACHED", "#N ERROR: ..." or "#N CANCELED". Each line is written whole. On a terminal
// the same events drive BuildKit's live view instead (tty_progress.hpp).
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

#include "builder/tty_progress.hpp"
#include "util/fd.hpp"

namespace kiln::builder {

class BuildProgress {
public:
    // quiet: no progress at all; a RUN's output still goes to stderr, as before -q existed.
    // terminal: the fd of the terminal `out` writes to, for the live view instead of the
    // plain lines (tty_progress.hpp); -1 for plain.
    BuildProgress(std::ostream& out, bool quiet, int terminal = -1);
    ~BuildProgress();
    BuildProgress(const BuildProgress&) = delete;
    BuildProgress& operator=(const BuildProgress&) = delete;

    // The next step's number, its line printed.
    int begin_step(std::string_view heading);
    // "#N text".
    void step_line(int step, std::string_view text);
    // The step's last line ("#N DONE 0.4s", "#N CACHED", ...), plain_text after "#N ".
    void step_end(int step, StepView::State state, std::string_view plain_text);
    // A line a RUN printed, elapsed seconds into its step.
    void output_line(int step, double elapsed, std::string_view text);
    // Runs f with the output held: what writes to the stream itself (a pull's progress)
    // does not tear the stages' lines.
    template <typename F>
    auto exclusive(F&& f) -> decltype(f()) {
        std::lock_guard lock(mutex_);
        if (!view_) return f();
        using Result = decltype(f());
        if constexpr (std::is_void_v<Result>) {
            view_->without_frame(f);
        } else {
            std::optional<Result> result;
            view_->without_frame([&] { result.emplace(f()); });
            return std::move(*result);
        }
    }

    // A running RUN container, by pidfd, killed by cancel(). Returns the registration id.
    int watch(UniqueFd pidfd);
    void unwatch(int id);
    // Kills every watched container (the build failed); later ones are killed on watch.
    void cancel();

private:
    std::ostream& out_;
    const bool quiet_;
    std::unique_ptr<TtyProgressView> view_;
    std::mutex mutex_;
    int steps_ = 0;
    std::mutex containers_mutex_;
    std::map<int, UniqueFd> containers_;
    int next_container_ = 0;
    bool cancelled_ = false;
};

// One stage's steps, built one after the other, with their timers and the last lines a
// RUN printed (the error of a failed step quotes them).
class StageProgress {
public:
    static constexpr std::size_t kTailLines = 10;

    StageProgress(BuildProgress& build, std::string stage_name) : build_(build), stage_name_(std::move(stage_name)) {}

    void begin(int n, int total, const std::string& text);
    int number() const { return number_; }
    // "[stage n/total] text", as BuildKit names a step in its errors.
    const std::string& label() const { return label_; }
    void cached();
    void done();
    void failed(const std::string& message);
    void cancelled();
    void note(std::string_view text) { build_.step_line(number_, text); }

    // A line of the running RUN's output (from its reader thread).
    void container_output(std::string_view line);
    // BuildKit's quote of the step's last output lines, empty when it printed none.
    std::string tail() const;

    // Registers a started container with the build's cancel for as long as it lives.
    class Watch {
    public:
        Watch() = default;
        Watch(BuildProgress& build, pid_t pid);
        ~Watch();
        Watch(Watch&& other) noexcept : build_(other.build_), id_(other.id_) { other.build_ = nullptr; }
        Watch& operator=(Watch&& other) noexcept;

    private:
        BuildProgress* build_ = nullptr;
        int id_ = -1;
    };
    Watch watch(pid_t pid) { return Watch(build_, pid); }

private:
    double elapsed() const;

    BuildProgress& build_;
    const std::string stage_name_;
    int number_ = 0;
    std::string label_;
    std::chrono::steady_clock::time_point started_;
    mutable std::mutex tail_mutex_;
    std::deque<std::string> tail_;
};

}  // namespace kiln::builder
