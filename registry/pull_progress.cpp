#include "registry/pull_progress.hpp"

#include <algorithm>
#include <cmath>

#include "util/human_units.hpp"

namespace kiln::registry {

namespace {

// Seconds as docker's progress shows time left: "3s", "1m5s", "2h0m".
std::string short_duration(double seconds) {
    auto s = static_cast<std::uint64_t>(std::ceil(std::max(0.0, seconds)));
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
}

bool is_final(LayerStatus s) { return s == LayerStatus::PullComplete || s == LayerStatus::AlreadyExists; }

}  // namespace

const char* status_text(LayerStatus status) {
    switch (status) {
    case LayerStatus::PullingFsLayer:
        return "Pulling fs layer";
    case LayerStatus::AlreadyExists:
        return "Already exists";
    case LayerStatus::Downloading:
        return "Downloading";
    case LayerStatus::VerifyingChecksum:
        return "Verifying Checksum";
    case LayerStatus::DownloadComplete:
        return "Download complete";
    case LayerStatus::PullComplete:
        return "Pull complete";
    }
    return "";
}

std::string progress_line(const std::string& layer, LayerStatus status, std::uint64_t done, std::uint64_t total,
                          double rate, std::size_t bar_width) {
    std::string out = layer + ": " + status_text(status);
    if (status != LayerStatus::Downloading) return out;
    if (total > 0 && bar_width > 0) {
        std::size_t filled = static_cast<std::size_t>(static_cast<double>(std::min(done, total)) /
                                                       static_cast<double>(total) * static_cast<double>(bar_width));
        filled = std::min(filled, bar_width - 1);
        out += " [" + std::string(filled, '=') + ">" + std::string(bar_width - 1 - filled, ' ') + "]";
    }
    out += "  " + human_size(done) + (total > 0 ? "/" + human_size(total) : "");
    if (rate > 0) {
        out += "  " + human_size(static_cast<std::uint64_t>(rate)) + "/s";
        if (total > done) out += "  " + short_duration(static_cast<double>(total - done) / rate);
    }
    return out;
}

PullProgress::PullProgress(std::ostream& out, bool terminal, Clock clock, std::chrono::milliseconds redraw_interval)
    : out_(out), terminal_(terminal), clock_(std::move(clock)), interval_(redraw_interval) {
    if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

PullProgress::Line& PullProgress::line_for(const std::string& layer) {
    for (auto& l : lines_)
        if (l.layer == layer) return l;
    lines_.push_back(Line{layer});
    return lines_.back();
}

void PullProgress::handle(const PullEvent& event) {
    std::lock_guard lock(mutex_);
    const auto now = clock_();
    if (event.kind == PullEvent::Kind::Message) {
        if (terminal_ && drawn_ > 0) {
            // A message goes above the live view: clear it, print, draw it again below.
            out_ << "\x1b[" << drawn_ << "A\x1b[J";
            drawn_ = 0;
        }
        out_ << event.text << "\n";
        if (terminal_ && !lines_.empty()) redraw(now);
        out_.flush();
        return;
    }
    Line& line = line_for(event.layer);
    const bool changed = !line.seen || line.status != event.status;
    if (line.seen && is_final(line.status) && !is_final(event.status)) return;  // late progress
    line.seen = true;
    line.status = event.status;
    if (event.status == LayerStatus::Downloading) {
        if (!line.started_set) {
            line.started = now;
            line.started_set = true;
        }
        line.done = event.done;
        line.total = event.total;
    }
    if (!terminal_) {
        // Plain output: docker prints each change of status, never the byte counts.
        if (changed && event.status != LayerStatus::Downloading) out_ << progress_line(line.layer, line.status, 0, 0, 0) << "\n";
        return;
    }
    if (changed || now - last_draw_ >= interval_) redraw(now);
}

void PullProgress::redraw(std::chrono::steady_clock::time_point now) {
    if (drawn_ > 0) out_ << "\x1b[" << drawn_ << "A";
    for (const auto& l : lines_) {
        double rate = 0;
        if (l.started_set) {
            double secs = std::chrono::duration<double>(now - l.started).count();
            if (secs > 0.2) rate = static_cast<double>(l.done) / secs;
        }
        out_ << "\x1b[2K" << progress_line(l.layer, l.status, l.done, l.total, rate) << "\n";
    }
    drawn_ = lines_.size();
    last_draw_ = now;
    out_.flush();
}

void PullProgress::finish() {
    std::lock_guard lock(mutex_);
    if (terminal_ && !lines_.empty()) redraw(clock_());
    out_.flush();
}

}  // namespace kiln::registry
