#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kiln::cli {

// Docker's per-item transfer display (`abc123def456: Pushing [==>   ] 3.1MB/12MB`), shared
// by push and pull. On a terminal every item keeps one line, redrawn in place as it moves
// (bytes done of total, rate, time left); elsewhere each change of status is one plain line
// and byte counts are not printed. Safe to call from several threads.
class TransferProgress {
public:
    TransferProgress(std::ostream& out, bool terminal);

    // The item's status changes ("Preparing", "Pushed", "Mounted from a/b").
    void status(const std::string& id, const std::string& text);
    // Bytes moving under a status ("Pushing"): redrawn at most every 100 ms on a terminal.
    void progress(const std::string& id, const std::string& text, std::uint64_t done, std::uint64_t total);

    // The progress text after the status: "[=====>     ]  3.1MB/12MB  1.2MB/s  8s".
    static std::string bar(std::uint64_t done, std::uint64_t total, double seconds);

private:
    using Clock = std::chrono::steady_clock;
    struct Item {
        std::string id;
        std::string text;
        std::string line;
        std::optional<Clock::time_point> started, drawn;
    };
    Item& item(const std::string& id);
    void draw(std::size_t index);

    std::ostream& out_;
    bool terminal_;
    std::mutex mutex_;
    std::vector<Item> items_;
};

}  // namespace kiln::cli
