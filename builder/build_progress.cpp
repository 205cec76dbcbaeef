#include "builder/build_progress.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "util/error.hpp"

namespace kiln::builder {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

void kill_by_pidfd(int pidfd) {
    // A pidfd names this very process: one that already exited is not replaced by another.
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
}

}  // namespace

BuildProgress::BuildProgress(std::ostream& out, bool quiet, int terminal) : out_(out), quiet_(quiet) {
    if (!quiet && terminal >= 0) view_ = std::make_unique<TtyProgressView>(out, terminal);
}

BuildProgress::~BuildProgress() = default;

int BuildProgress::begin_step(std::string_view heading) {
    std::lock_guard lock(mutex_);
    const int step = ++steps_;
    if (view_) {
        view_->begin(step, std::string(heading));
    } else if (!quiet_) {
        out_ << fmt::format("#{} {}\n", step, heading);
        out_.flush();
    }
    return step;
}

void BuildProgress::step_line(int step, std::string_view text) {
    if (quiet_) return;
    std::lock_guard lock(mutex_);
    if (view_) {
        view_->note(step, text);
        return;
    }
    out_ << fmt::format("#{} {}\n", step, text);
    out_.flush();
}

void BuildProgress::step_end(int step, StepView::State state, std::string_view plain_text) {
    if (quiet_) return;
    std::lock_guard lock(mutex_);
    if (view_) {
        view_->finish(step, state);
        return;
    }
    out_ << fmt::format("#{} {}\n", step, plain_text);
    out_.flush();
}

void BuildProgress::output_line(int step, double elapsed, std::string_view text) {
    std::lock_guard lock(mutex_);
    if (quiet_) {
        // -q keeps stdout for the image ID alone.
        std::cerr << text << '\n';
        return;
    }
    if (view_) {
        view_->output(step, text);
        return;
    }
    out_ << fmt::format("#{} {:.3f} {}\n", step, elapsed, text);
    out_.flush();
}

int BuildProgress::watch(UniqueFd pidfd) {
    std::lock_guard lock(containers_mutex_);
    if (cancelled_) kill_by_pidfd(pidfd.get());
    const int id = next_container_++;
    containers_.emplace(id, std::move(pidfd));
    return id;
}

void BuildProgress::unwatch(int id) {
    std::lock_guard lock(containers_mutex_);
    containers_.erase(id);
}

void BuildProgress::cancel() {
    std::lock_guard lock(containers_mutex_);
    cancelled_ = true;
    for (const auto& [id, pidfd] : containers_) kill_by_pidfd(pidfd.get());
}

void StageProgress::begin(int n, int total, const std::string& text) {
    label_ = fmt::format("[{} {}/{}] {}", stage_name_, n, total, text);
    number_ = build_.begin_step(label_);
    started_ = std::chrono::steady_clock::now();
    std::lock_guard lock(tail_mutex_);
    tail_.clear();
}

double StageProgress::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void StageProgress::cached() { build_.step_end(number_, StepView::State::cached, "CACHED"); }

void StageProgress::done() {
    build_.step_end(number_, StepView::State::done, fmt::format("DONE {:.3f}s", elapsed()));
}

void StageProgress::failed(const std::string& message) {
    // One line: a message may quote the step's output below its first line.
    build_.step_end(number_, StepView::State::failed, "ERROR: " + message.substr(0, message.find('\n')));
}

void StageProgress::cancelled() { build_.step_end(number_, StepView::State::cancelled, "CANCELED"); }

void StageProgress::container_output(std::string_view line) {
    const double at = elapsed();
    build_.output_line(number_, at, line);
    std::lock_guard lock(tail_mutex_);
    tail_.emplace_back(fmt::format("{:.3f} {}", at, line));
    if (tail_.size() > kTailLines) tail_.pop_front();
}

std::string StageProgress::tail() const {
    std::lock_guard lock(tail_mutex_);
    if (tail_.empty()) return "";
    std::string text = "------\n > " + label_ + ":\n";
    for (const auto& line : tail_) text += line + "\n";
    return text + "------";
}

StageProgress::Watch::Watch(BuildProgress& build, pid_t pid) {
    UniqueFd pidfd(pidfd_open(pid));
    if (!pidfd) throw_errno("pidfd_open for the RUN container");
    build_ = &build;
    id_ = build.watch(std::move(pidfd));
}

StageProgress::Watch::~Watch() {
    if (build_) build_->unwatch(id_);
}

StageProgress::Watch& StageProgress::Watch::operator=(Watch&& other) noexcept {
    if (this != &other) {
        if (build_) build_->unwatch(id_);
        build_ = other.build_;
        id_ = other.id_;
        other.build_ = nullptr;
    }
    return *this;
}

}  // namespace kiln::builder
