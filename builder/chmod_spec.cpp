#include "builder/chmod_spec.hpp"

#include <sys/stat.h>

#include <charconv>

#include "util/error.hpp"

namespace kiln::builder {

namespace {

constexpr unsigned kUser = 1, kGroup = 2, kOthers = 4;

[[noreturn]] void invalid(std::string_view text) {
    throw Error("invalid --chmod=" + std::string(text) +
                ": expected an octal mode (0755) or a symbolic one (u+x,go-w)");
}

// The bits `perms` names for the classes, given the entry's mode so far (for X).
mode_t bits_for(unsigned classes, std::string_view perms, mode_t current, bool is_directory) {
    mode_t bits = 0;
    const struct { unsigned cls; mode_t r, w, x, special; } kClasses[] = {
        {kUser, S_IRUSR, S_IWUSR, S_IXUSR, S_ISUID},
        {kGroup, S_IRGRP, S_IWGRP, S_IXGRP, S_ISGID},
        {kOthers, S_IROTH, S_IWOTH, S_IXOTH, S_ISVTX},
    };
    bool any_execute = (current & (S_IXUSR | S_IXGRP | S_IXOTH)) != 0;
    for (const auto& c : kClasses) {
        if (!(classes & c.cls)) continue;
        for (char p : perms) {
            switch (p) {
                case 'r': bits |= c.r; break;
                case 'w': bits |= c.w; break;
                case 'x': bits |= c.x; break;
                case 'X': if (is_directory || any_execute) bits |= c.x; break;
                // s is setuid/setgid (nothing for others), t the sticky bit (others only).
                case 's': if (c.cls != kOthers) bits |= c.special; break;
                case 't': if (c.cls == kOthers) bits |= c.special; break;
                default: break;
            }
        }
    }
    return bits;
}

// Everything `=` resets for the classes: their rwx and their special bit.
mode_t class_mask(unsigned classes) {
    mode_t mask = 0;
    if (classes & kUser) mask |= S_IRWXU | S_ISUID;
    if (classes & kGroup) mask |= S_IRWXG | S_ISGID;
    if (classes & kOthers) mask |= S_IRWXO | S_ISVTX;
    return mask;
}

}  // namespace

ChmodSpec ChmodSpec::parse(std::string_view text) {
    ChmodSpec spec;
    spec.text_ = std::string(text);
    if (text.empty()) invalid(text);
    if (text.find_first_not_of("01234567") == std::string_view::npos) {
        unsigned value = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
        if (error != std::errc{} || end != text.data() + text.size() || value > 07777) invalid(text);
        spec.octal_ = static_cast<mode_t>(value);
        return spec;
    }
    spec.symbolic_ = true;
    std::size_t pos = 0;
    for (;;) {
        unsigned classes = 0;
        for (; pos < text.size(); ++pos) {
            char c = text[pos];
            if (c == 'u') classes |= kUser;
            else if (c == 'g') classes |= kGroup;
            else if (c == 'o') classes |= kOthers;
            else if (c == 'a') classes |= kUser | kGroup | kOthers;
            else break;
        }
        // No class letter means all of them (a build has no umask to respect).
        if (classes == 0) classes = kUser | kGroup | kOthers;
        bool any_operator = false;
        while (pos < text.size() && (text[pos] == '+' || text[pos] == '-' || text[pos] == '=')) {
            Clause clause{classes, text[pos++], {}};
            while (pos < text.size() && std::string_view("rwxXst").find(text[pos]) != std::string_view::npos)
                clause.perms += text[pos++];
            spec.clauses_.push_back(std::move(clause));
            any_operator = true;
        }
        if (!any_operator) invalid(text);
        if (pos == text.size()) return spec;
        if (text[pos] != ',') invalid(text);
        ++pos;
    }
}

mode_t ChmodSpec::apply(mode_t current, bool is_directory) const {
    if (!symbolic_) return octal_;
    mode_t mode = current & 07777;
    for (const auto& clause : clauses_) {
        mode_t bits = bits_for(clause.classes, clause.perms, mode, is_directory);
        if (clause.op == '+') mode |= bits;
        else if (clause.op == '-') mode &= ~bits;
        else mode = (mode & ~class_mask(clause.classes)) | bits;
    }
    return mode;
}

}  // namespace kiln::builder
