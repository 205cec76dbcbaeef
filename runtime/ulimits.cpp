#include "runtime/ulimits.hpp"

#include <cerrno>
#include <charconv>
#include <string_view>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

struct Name {
    std::string_view name;
    int resource;
};
constexpr Name names[] = {
    {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};

int resource_of(std::string_view name) {
    for (const auto& n : names)
        if (n.name == name) return n.resource;
    return -1;
}

std::int64_t parse_value(std::string_view text) {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, 10);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        throw Error("invalid ulimit value \"" + std::string(text) + "\": expected a decimal integer (or -1)");
    if (n < -1) throw Error("invalid ulimit value " + std::string(text) + ": use -1 for unlimited");
    return n;
}

rlim_t to_rlim(std::int64_t n) { return n < 0 ? RLIM_INFINITY : static_cast<rlim_t>(n); }

std::string rlim_text(rlim_t n) { return n == RLIM_INFINITY ? "unlimited" : std::to_string(n); }

}  // namespace

Ulimit parse_ulimit(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos) throw Error("invalid ulimit argument: " + text);
    Ulimit u;
    u.name = text.substr(0, eq);
    if (resource_of(u.name) < 0) throw Error("invalid ulimit type: " + u.name);
    std::string_view values = std::string_view(text).substr(eq + 1);
    auto colon = values.find(':');
    if (colon != std::string_view::npos && values.find(':', colon + 1) != std::string_view::npos)
        throw Error("too many limit value arguments - " + std::string(values) +
                    ", can only have up to two, `soft[:hard]`");
    u.soft = parse_value(values.substr(0, colon));
    u.hard = colon == std::string_view::npos ? u.soft : parse_value(values.substr(colon + 1));
    if (to_rlim(u.soft) > to_rlim(u.hard))
        throw Error("ulimit soft limit must be less than or equal to hard limit: " + std::to_string(u.soft) + " > " +
                    std::to_string(u.hard));
    return u;
}

std::vector<Rlimit> to_rlimits(const std::vector<Ulimit>& ulimits) {
    std::vector<Rlimit> limits;
    for (const auto& u : ulimits) {
        Rlimit r{resource_of(u.name), {to_rlim(u.soft), to_rlim(u.hard)}};
        if (r.resource < 0) throw Error("invalid ulimit type: " + u.name);
        rlimit own{};
        if (::getrlimit(r.resource, &own) != 0) throw_errno("getrlimit " + u.name);
        if (r.limit.rlim_max > own.rlim_max)
            throw Error("invalid --ulimit " + u.name + ": hard limit " + rlim_text(r.limit.rlim_max) +
                        " is above kiln's own (" + rlim_text(own.rlim_max) +
                        "), which only CAP_SYS_RESOURCE could raise");
        limits.push_back(r);
    }
    return limits;
}

bool apply_rlimits(const std::vector<Rlimit>& limits, ChildReport& report) {
    for (const auto& r : limits)
        if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &r.limit) != 0)
            return report.fail_errno(errno, "setrlimit %d", r.resource);
    return true;
}

}  // namespace kiln::runtime
