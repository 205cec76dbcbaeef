#include "builder/flag_values.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "util/error.hpp"

namespace kiln::builder {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Digits, optionally a '.' and more digits: the only numbers these flags take. Returns
// how many characters of text form one (0 if none).
std::size_t decimal_prefix(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i == 0) return 0;
    if (i < text.size() && text[i] == '.') {
        std::size_t j = i + 1;
        while (j < text.size() && is_digit(text[j])) ++j;
        if (j == i + 1) return 0;  // "1." is not a number here
        i = j;
    }
    return i;
}

double to_double(std::string_view digits) {
    double value = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), value, std::chars_format::fixed);
    return value;
}

// A decimal integer of digits only (no sign, no spaces), or nullopt.
std::optional<std::int64_t> plain_integer(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
    if (text.empty() || !is_digit(text.front()) || ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// The CPUs of a kernel cpu list ("0-3,5"), or nullopt where it is not one. Numbers above
// the kernel's own maximum (NR_CPUS is at most 8192) cannot name a CPU.
std::optional<std::set<std::int64_t>> cpu_list(std::string_view text) {
    constexpr std::int64_t max_cpu = 8192;
    std::set<std::int64_t> cpus;
    while (!text.empty()) {
        const auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        if (comma != std::string_view::npos && text.empty()) return std::nullopt;  // "0,"
        const auto dash = item.find('-');
        auto first = plain_integer(item.substr(0, dash));
        auto last = dash == std::string_view::npos ? first : plain_integer(item.substr(dash + 1));
        if (!first || !last || *first > *last || *last >= max_cpu) return std::nullopt;
        for (auto cpu = *first; cpu <= *last; ++cpu) cpus.insert(cpu);
    }
    return cpus;
}

}  // namespace

std::int64_t parse_memory_size(const std::string& text, const std::string& flag) {
    auto invalid = [&] {
        return Error(fmt::format("invalid argument \"{}\" for \"{}\" flag: invalid size: '{}' "
                                 "(expected a number with an optional b, k, m, g, t or p unit)",
                                 text, flag, text));
    };
    std::string_view rest = text;
    std::size_t used = decimal_prefix(rest);
    if (used == 0) throw invalid();
    double value = to_double(rest.substr(0, used));
    rest.remove_prefix(used);
    if (rest.starts_with(' ')) rest.remove_prefix(1);
    double multiplier = 1;
    if (!rest.empty()) {
        static constexpr std::string_view units = "kmgtp";
        auto unit = units.find(static_cast<char>(std::tolower(static_cast<unsigned char>(rest.front()))));
        if (unit != std::string_view::npos) {
            multiplier = std::ldexp(1.0, 10 * static_cast<int>(unit + 1));
            rest.remove_prefix(1);
        }
    }
    if (!rest.empty() && (rest.front() == 'i' || rest.front() == 'I')) rest.remove_prefix(1);
    if (!rest.empty() && (rest.front() == 'b' || rest.front() == 'B')) rest.remove_prefix(1);
    if (!rest.empty()) throw invalid();
    double bytes = value * multiplier;
    if (!(bytes < 9.2e18)) throw invalid();
    return static_cast<std::int64_t>(bytes);
}

double parse_cpus(const std::string& text, unsigned available) {
    std::size_t used = decimal_prefix(text);
    if (used == 0 || used != text.size())
        throw Error(fmt::format("invalid argument \"{}\" for \"--cpus\" flag: expected a decimal number of CPUs",
                                text));
    double cpus = to_double(text);
    if (cpus == 0) return 0;
    if (cpus < 0.01 || cpus > available)
        throw Error(fmt::format("range of CPUs is from 0.01 to {}.00, as there are only {} CPUs available",
                                available, available));
    return cpus;
}

std::int64_t parse_pids_limit(const std::string& text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || text.starts_with('+'))
        throw Error(fmt::format("invalid argument \"{}\" for \"--pids-limit\" flag: expected a decimal integer",
                                text));
    if (value < -1) throw Error(fmt::format("invalid --pids-limit {}: use -1 or 0 for no limit", text));
    return value < 0 ? 0 : value;
}

std::int64_t parse_memory_swap(const std::string& text) {
    if (text == "-1") return -1;
    return parse_memory_size(text, "--memory-swap");
}

std::int64_t parse_cpu_shares(const std::string& text) {
    std::string_view digits = text;
    const bool negative = digits.starts_with('-');
    if (negative) digits.remove_prefix(1);
    auto value = plain_integer(digits);
    if (!value)
        throw Error(fmt::format("invalid argument \"{}\" for \"-c, --cpu-shares\" flag: expected a decimal integer",
                                text));
    if (negative && *value != 0)
        throw Error(fmt::format("invalid --cpu-shares {}: CPU shares must be a positive integer", text));
    return *value;
}

std::string parse_cpuset_cpus(const std::string& text, const std::string& online) {
    if (text.empty()) return text;
    auto requested = cpu_list(text);
    if (!requested || requested->empty()) throw Error(fmt::format("Invalid value {} for cpuset cpus", text));
    std::string available(online);
    while (!available.empty() && (available.back() == '\n' || available.back() == ' ')) available.pop_back();
    auto present = cpu_list(available);
    if (!present) throw Error(fmt::format("cannot read the online CPUs (\"{}\")", available));
    for (auto cpu : *requested)
        if (!present->count(cpu))
            throw Error(fmt::format("Requested CPUs are not available - requested {}, available: {}", text, available));
    return text;
}

}  // namespace kiln::builder
