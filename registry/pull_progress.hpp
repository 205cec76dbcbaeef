#pragma once
// What a pull reports while it works, and how `kiln pull` shows it: one line per event when
// the output is not a terminal (docker's words: "abc123def456: Pull complete"), a live view
// redrawn in place when it is (one line per layer with bytes, rate and ETA).
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

namespace kiln::registry {

enum class LayerStatus {
    PullingFsLayer,     // queued for download
    AlreadyExists,      // its chain is in the store
    Downloading,        // bytes arriving (done/total)
    VerifyingChecksum,  // all bytes in, digest being checked
    DownloadComplete,
    PullComplete,  // unpacked into the store's staging, verified against the config
};

// Docker's words for a status ("Pulling fs layer", "Already exists", …).
const char* status_text(LayerStatus status);

struct PullEvent {
    enum class Kind { Message, Layer };
    Kind kind = Kind::Message;
    std::string text;   // Message: a whole line ("latest: Pulling from library/busybox")
    std::string layer;  // Layer: the blob's short id (12 hex digits)
    LayerStatus status = LayerStatus::PullingFsLayer;
    std::uint64_t done = 0, total = 0;  // Downloading: bytes
};

// Called from several threads at once (parallel layer downloads): a listener serializes.
using PullListener = std::function<void(const PullEvent&)>;

// One live line: "abc123def456: Downloading  [=====>      ]  1.2MB/3.4MB  850kB/s  3s".
// rate in bytes/second (0: unknown, then no rate and no ETA); width: of the bar's inside.
std::string progress_line(const std::string& layer, LayerStatus status, std::uint64_t done, std::uint64_t total,
                          double rate, std::size_t bar_width = 30);

class PullProgress {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    // terminal: live redraw with ANSI cursor movement, at most every redraw_interval.
    PullProgress(std::ostream& out, bool terminal, Clock clock = {},
                 std::chrono::milliseconds redraw_interval = std::chrono::milliseconds(100));

    void handle(const PullEvent& event);
    PullListener listener() {
        return [this](const PullEvent& e) { handle(e); };
    }
    // Draws the final state of the live view (nothing to do for plain output).
    void finish();

private:
    struct Line {
        std::string layer;
        LayerStatus status = LayerStatus::PullingFsLayer;
        std::uint64_t done = 0, total = 0;
        std::chrono::steady_clock::time_point started{};
        bool started_set = false;
        bool seen = false;  // an event has set its status
    };
    Line& line_for(const std::string& layer);
    void redraw(std::chrono::steady_clock::time_point now);

    std::ostream& out_;
    bool terminal_;
    Clock clock_;
    std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::vector<Line> lines_;
    std::size_t drawn_ = 0;  // lines of the live view currently on screen
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace kiln::registry
