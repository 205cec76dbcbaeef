#include "cli/format.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace kiln::cli {

void Table::print(std::ostream& out) const {
    std::vector<std::size_t> widths;
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (widths.size() <= i) widths.push_back(0);
            widths[i] = std::max(widths[i], row[i].size());
        }
    for (const auto& row : rows_) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
        }
        out << line << "\n";
    }
}

std::string human_size(std::uint64_t bytes) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1000.0 && unit < 4) {
        value /= 1000.0;
        ++unit;
    }
    if (unit == 0) return fmt::format("{}B", bytes);
    return fmt::format("{:.3g}{}", value, units[unit]);
}

std::string human_age(std::int64_t unix_seconds) {
    auto seconds = static_cast<long long>(std::time(nullptr) - unix_seconds);
    if (seconds < 1) return "Less than a second ago";
    if (seconds < 60) return fmt::format("{} seconds ago", seconds);
    if (seconds < 120) return "About a minute ago";
    if (seconds < 3600) return fmt::format("{} minutes ago", seconds / 60);
    if (seconds < 7200) return "About an hour ago";
    if (seconds < 86400 * 2) return fmt::format("{} hours ago", seconds / 3600);
    if (seconds < 86400 * 14) return fmt::format("{} days ago", seconds / 86400);
    if (seconds < 86400 * 60) return fmt::format("{} weeks ago", seconds / (86400 * 7));
    if (seconds < 86400 * 730) return fmt::format("{} months ago", seconds / (86400 * 30));
    return fmt::format("{} years ago", seconds / (86400 * 365));
}

}  // namespace kiln::cli
