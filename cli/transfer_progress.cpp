#include "cli/transfer_progress.hpp"

#include <cmath>

#include "util/human_units.hpp"

namespace kiln::cli {

namespace {

constexpr int kBarWidth = 50;
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

std::string eta(double seconds) {
    auto s = static_cast<std::int64_t>(std::ceil(seconds));
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

}  // namespace

TransferProgress::TransferProgress(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

std::string TransferProgress::bar(std::uint64_t done, std::uint64_t total, double seconds) {
    std::string text;
    if (total > 0) {
        const double part = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
        const int filled = static_cast<int>(part * kBarWidth);
        text = "[" + std::string(static_cast<std::size_t>(filled), '=');
        if (filled < kBarWidth) text += ">" + std::string(static_cast<std::size_t>(kBarWidth - filled - 1), ' ');
        text += "]  ";
    }
    text += human_size(done);
    if (total > 0) text += "/" + human_size(total);  // 0: not known yet (a blob still being made)
    if (seconds > 0.2 && done > 0) {
        const double rate = static_cast<double>(done) / seconds;
        text += "  " + human_size(static_cast<std::uint64_t>(rate)) + "/s";
        if (total > done) text += "  " + eta(static_cast<double>(total - done) / rate);
    }
    return text;
}

TransferProgress::Item& TransferProgress::item(const std::string& id) {
    for (auto& i : items_)
        if (i.id == id) return i;
    items_.push_back(Item{id, {}, {}, {}, {}});
    if (terminal_) out_ << "\n";  // the item's own line, drawn below
    return items_.back();
}

void TransferProgress::draw(std::size_t index) {
    const Item& i = items_[index];
    const std::size_t up = items_.size() - index;
    // Up to the item's line, clear it, write it, and back down below the last line.
    out_ << "\x1b[" << up << "A\r\x1b[2K" << i.id << ": " << i.line << "\x1b[" << up << "B\r";
    out_.flush();
}

void TransferProgress::status(const std::string& id, const std::string& text) {
    std::lock_guard lock(mutex_);
    Item& i = item(id);
    if (i.text == text && i.line == text) return;
    i.text = i.line = text;
    i.drawn.reset();
    if (terminal_) {
        draw(static_cast<std::size_t>(&i - items_.data()));
    } else {
        out_ << id << ": " << text << "\n";
        out_.flush();
    }
}

void TransferProgress::progress(const std::string& id, const std::string& text, std::uint64_t done,
                                std::uint64_t total) {
    std::lock_guard lock(mutex_);
    Item& i = item(id);
    const auto now = Clock::now();
    if (!i.started || i.text != text) i.started = now;
    const bool changed = i.text != text;
    i.text = text;
    if (!terminal_) {
        if (changed) {
            out_ << id << ": " << text << "\n";
            out_.flush();
        }
        return;
    }
    if (!changed && i.drawn && now - *i.drawn < kRedrawEvery && done < total) return;
    i.drawn = now;
    const double seconds = std::chrono::duration<double>(now - *i.started).count();
    i.line = text + " " + bar(done, total, seconds);
    draw(static_cast<std::size_t>(&i - items_.data()));
}

}  // namespace kiln::cli
