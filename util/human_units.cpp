#include "util/human_units.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace kiln {

namespace {

// go-units CustomSize: divide by base while it fits a larger unit, then Go's %.*g.
std::string custom_size(std::uint64_t bytes, int precision, double base, const char* const (&units)[9]) {
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= base && unit + 1 < std::size(units)) {
        value /= base;
        ++unit;
    }
    // C's %g and Go's %g agree on digits and exponent form for these magnitudes.
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*g%s", precision, value, units[unit]);
    return buffer;
}

}  // namespace

std::string human_size(std::uint64_t bytes, int precision) {
    static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    return custom_size(bytes, precision, 1000.0, kUnits);
}

std::string bytes_size(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    return custom_size(bytes, 4, 1024.0, kUnits);
}

std::string human_duration(std::int64_t seconds) {
    if (seconds < 1) return "Less than a second";
    if (seconds == 1) return "1 second";
    if (seconds < 60) return fmt::format("{} seconds", seconds);
    std::int64_t minutes = seconds / 60;
    if (minutes == 1) return "About a minute";
    if (minutes < 60) return fmt::format("{} minutes", minutes);
    // go-units rounds to the nearest hour from here on.
    std::int64_t hours = (seconds + 1800) / 3600;
    if (hours == 1) return "About an hour";
    if (hours < 48) return fmt::format("{} hours", hours);
    if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
    if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
    if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
    return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::optional<std::uint64_t> parse_human_size(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double number = 0;
    try {
        std::size_t used = 0;
        number = std::stod(std::string(text.substr(0, i)), &used);
        if (used != i) return std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::string unit;
    for (char c : text.substr(i))
        if (c != ' ') unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (unit.ends_with("ib")) unit.erase(unit.size() - 2, 1);  // "MiB" is read as "MB", as go-units does
    if (!unit.empty() && unit.back() == 'b' && unit.size() > 1) unit.pop_back();
    static constexpr std::string_view kPrefixes = "kmgtpezy";
    double multiplier = 1;
    if (!unit.empty() && unit != "b") {
        auto pos = kPrefixes.find(unit);
        if (unit.size() != 1 || pos == std::string_view::npos) return std::nullopt;
        multiplier = std::pow(1000.0, static_cast<double>(pos + 1));
    }
    return static_cast<std::uint64_t>(number * multiplier);
}

std::optional<std::int64_t> parse_go_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    double total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (start == i) return std::nullopt;
        double number = std::stod(std::string(text.substr(start, i - start)));
        std::size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        std::string_view unit = text.substr(unit_start, i - unit_start);
        if (unit == "h") total += number * 3600;
        else if (unit == "m") total += number * 60;
        else if (unit == "s") total += number;
        else if (unit == "ms") total += number / 1e3;
        else if (unit == "us" || unit == "µs") total += number / 1e6;
        else if (unit == "ns") total += number / 1e9;
        else return std::nullopt;
    }
    return static_cast<std::int64_t>(total);
}

namespace {

std::tm local_tm(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    localtime_r(&t, &tm);
    return tm;
}

std::string zone_offset(const std::tm& tm, bool colon) {
    long offset = tm.tm_gmtoff;
    char sign = offset < 0 ? '-' : '+';
    offset = std::labs(offset);
    return fmt::format("{}{:02}{}{:02}", sign, offset / 3600, colon ? ":" : "", offset / 60 % 60);
}

}  // namespace

std::string rfc3339_local(std::int64_t unix_seconds) {
    std::tm tm = local_tm(unix_seconds);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buffer) + (tm.tm_gmtoff == 0 ? "Z" : zone_offset(tm, true));
}

std::string go_time_string(std::int64_t unix_seconds) {
    std::tm tm = local_tm(unix_seconds);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
    return std::string(buffer) + " " + zone_offset(tm, false) + " " + (tm.tm_zone ? tm.tm_zone : "UTC");
}

}  // namespace kiln
