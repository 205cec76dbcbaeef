#include "builder/go_format.hpp"

#include "parser/parse.hpp"

namespace kiln::builder {

namespace {

// The digits of `fraction` (of `precision` digits) after a '.', trailing zeros dropped;
// nothing when it is zero, as Go's fmtFrac.
std::string fraction_text(std::uint64_t fraction, int precision) {
    std::string digits(static_cast<std::size_t>(precision), '0');
    for (int i = precision - 1; i >= 0; --i) {
        digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + fraction % 10);
        fraction /= 10;
    }
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    return digits.empty() ? "" : "." + digits;
}

}  // namespace

std::string go_duration(std::int64_t nanoseconds) {
    if (nanoseconds == 0) return "0s";
    const bool negative = nanoseconds < 0;
    // Magnitude in unsigned arithmetic, so the most negative value has one too.
    const std::uint64_t u = negative ? ~static_cast<std::uint64_t>(nanoseconds) + 1 : static_cast<std::uint64_t>(nanoseconds);
    std::string out;
    if (u < 1'000'000'000) {
        // Below a second Go picks the largest unit that keeps a whole number in front.
        if (u < 1'000) {
            out = std::to_string(u) + "ns";
        } else if (u < 1'000'000) {
            out = std::to_string(u / 1'000) + fraction_text(u % 1'000, 3) + "\xC2\xB5s";  // µs
        } else {
            out = std::to_string(u / 1'000'000) + fraction_text(u % 1'000'000, 6) + "ms";
        }
    } else {
        const std::uint64_t seconds = u / 1'000'000'000;
        const std::string secs = std::to_string(seconds % 60) + fraction_text(u % 1'000'000'000, 9) + "s";
        const std::uint64_t minutes = seconds / 60 % 60;
        const std::uint64_t hours = seconds / 3600;
        if (hours > 0) {
            out = std::to_string(hours) + "h" + std::to_string(minutes) + "m" + secs;
        } else if (seconds >= 60) {
            out = std::to_string(minutes) + "m" + secs;
        } else {
            out = secs;
        }
    }
    return negative ? "-" + out : out;
}

std::string go_quoted_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + parser::go_quote(items[i]);
    return out + "]";
}

std::string go_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + items[i];
    return out + "]";
}

}  // namespace kiln::builder
