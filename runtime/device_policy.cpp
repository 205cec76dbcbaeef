#include "runtime/device_policy.hpp"

#include <charconv>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

std::string number_text(std::int64_t n) { return n == DeviceRule::any ? "*" : std::to_string(n); }

// A major or minor number: digits or "*".
std::int64_t parse_number(std::string_view text, const std::string& rule) {
    if (text == "*") return DeviceRule::any;
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    // Linux device numbers: 12-bit major, 20-bit minor; both fit well below this bound.
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < 0 || n > 0xfffff)
        throw Error("invalid device cgroup rule \"" + rule + "\": bad device number \"" + std::string(text) + "\"");
    return n;
}

bool matches(const DeviceRule& rule, DeviceType type, std::int64_t major, std::int64_t minor, unsigned access) {
    if (rule.type != DeviceType::all && rule.type != type) return false;
    if (rule.major != DeviceRule::any && rule.major != major) return false;
    if (rule.minor != DeviceRule::any && rule.minor != minor) return false;
    // An allow rule must grant all of the request; a deny rule refuses any part of it.
    return rule.allow ? (access & ~rule.access) == 0 : (access & rule.access) != 0;
}

}  // namespace

std::string DeviceRule::str() const {
    std::string text(1, static_cast<char>(type));
    text += ' ' + number_text(major) + ':' + number_text(minor) + ' ';
    if (access & device_read) text += 'r';
    if (access & device_write) text += 'w';
    if (access & device_mknod) text += 'm';
    return text;
}

DevicePolicy DevicePolicy::docker_default() {
    using enum DeviceType;
    constexpr auto any = DeviceRule::any;
    return {{
        // Creating nodes is harmless without permission to open them; images rely on it.
        {character, any, any, device_mknod},
        {block, any, any, device_mknod},
        {character, 1, 3},    // null
        {character, 1, 5},    // zero
        {character, 1, 7},    // full
        {character, 1, 8},    // random
        {character, 1, 9},    // urandom
        {character, 5, 0},    // tty
        {character, 5, 1},    // console
        {character, 5, 2},    // ptmx
        {character, 136, any},  // pts
        // tun/tap: runc dropped it in 1.2.0 and restored it in 1.2.4 because containers
        // that mknod /dev/net/tun themselves broke; Docker ships with it.
        {character, 10, 200},
    }};
}

DevicePolicy DevicePolicy::allow_all() { return {{DeviceRule{}}}; }

void DevicePolicy::add(const std::string& text) {
    auto bad = [&](const char* why) {
        return Error("invalid device cgroup rule \"" + text + "\": " + why + " (expected TYPE MAJOR:MINOR ACCESS, "
                     "e.g. \"c 10:200 rwm\")");
    };
    DeviceRule rule;
    if (text.empty() || (text[0] != 'a' && text[0] != 'b' && text[0] != 'c')) throw bad("type must be a, b or c");
    rule.type = static_cast<DeviceType>(text[0]);
    if (text.size() == 1) {  // "a" alone: everything
        if (rule.type != DeviceType::all) throw bad("missing MAJOR:MINOR");
        rules.push_back(rule);
        return;
    }
    if (text[1] != ' ') throw bad("missing space after the type");
    auto colon = text.find(':', 2);
    auto space = text.find(' ', 2);
    if (colon == std::string::npos || space == std::string::npos || colon > space) throw bad("missing MAJOR:MINOR");
    rule.major = parse_number(std::string_view(text).substr(2, colon - 2), text);
    rule.minor = parse_number(std::string_view(text).substr(colon + 1, space - colon - 1), text);
    std::string_view access = std::string_view(text).substr(space + 1);
    if (access.empty() || access.size() > 3) throw bad("ACCESS must be a combination of r, w and m");
    rule.access = 0;
    for (char c : access) {
        unsigned bit = c == 'r' ? device_read : c == 'w' ? device_write : c == 'm' ? device_mknod : 0;
        if (!bit || (rule.access & bit)) throw bad("ACCESS must be a combination of r, w and m");
        rule.access |= bit;
    }
    rules.push_back(rule);
}

bool DevicePolicy::allows(DeviceType type, std::int64_t major, std::int64_t minor, unsigned access) const {
    for (auto it = rules.rbegin(); it != rules.rend(); ++it)
        if (matches(*it, type, major, minor, access)) return it->allow;
    return false;
}

}  // namespace kiln::runtime
