#include "cli/format.hpp"

#include <chrono>
#include <ctime>

#include "util/human_units.hpp"

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

// Both follow the docker CLI's go-units, kept in util so the rules are tested there.
std::string human_size(std::uint64_t bytes) { return kiln::human_size(bytes, 3); }

std::string human_age(std::int64_t unix_seconds) {
    return human_duration(static_cast<std::int64_t>(std::time(nullptr)) - unix_seconds) + " ago";
}

}  // namespace kiln::cli
