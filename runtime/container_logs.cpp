#include "runtime/container_logs.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <deque>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/container_records.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

struct Entry {
    std::string text;
    bool is_stderr = false;
    std::string time;
    std::int64_t time_ns = 0;
};

std::int64_t parse_rfc3339(const std::string& text) {
    tm parts{};
    const char* rest = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
    if (!rest) throw Error("invalid time \"" + text + "\"");
    std::int64_t ns = static_cast<std::int64_t>(::timegm(&parts)) * 1000000000;
    if (*rest == '.') {
        std::int64_t scale = 100000000;
        for (++rest; std::isdigit(static_cast<unsigned char>(*rest)); ++rest, scale /= 10)
            ns += (*rest - '0') * scale;
    }
    if (*rest == 'Z') return ns;
    if (*rest == '+' || *rest == '-') {
        int hours = 0, minutes = 0;
        if (std::sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) throw Error("invalid time \"" + text + "\"");
        std::int64_t offset = (hours * 3600LL + minutes * 60LL) * 1000000000;
        return *rest == '+' ? ns - offset : ns + offset;
    }
    if (*rest == '\0') return ns;
    throw Error("invalid time \"" + text + "\"");
}

bool parse_entry(std::string_view line, Entry& e) {
    try {
        auto j = nlohmann::json::parse(line);
        e.text = j.at("log").get<std::string>();
        e.is_stderr = j.at("stream").get<std::string>() == "stderr";
        e.time = j.at("time").get<std::string>();
        e.time_ns = parse_rfc3339(e.time);
        return true;
    } catch (const std::exception&) {
        return false;  // a torn last line (the monitor is writing it) or damage
    }
}

bool wanted(const Entry& e, const LogOptions& o) {
    if (o.since_ns && e.time_ns < o.since_ns) return false;
    if (o.until_ns && e.time_ns > o.until_ns) return false;
    return true;
}

void emit(const Entry& e, const LogOptions& o, int out, int err) {
    std::string text = o.timestamps ? e.time + " " + e.text : e.text;
    write_all(e.is_stderr ? err : out, text, "log output");
}

}  // namespace

std::int64_t parse_log_time(const std::string& text, std::int64_t now_ns) {
    if (text.empty()) throw Error("invalid time \"\"");
    bool numeric = true;
    for (char c : text) numeric = numeric && (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
    if (numeric) {
        auto dot = text.find('.');
        std::int64_t ns = std::stoll(text.substr(0, dot)) * 1000000000;
        if (dot != std::string::npos) {
            std::string frac = (text.substr(dot + 1) + "000000000").substr(0, 9);
            ns += std::stoll(frac);
        }
        return ns;
    }
    if (text.find('T') != std::string::npos || text.find('-') != std::string::npos) return parse_rfc3339(text);
    // A Go duration ("1h30m", "10m", "5s", "250ms"), back from now.
    std::int64_t total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (start == i) throw Error("invalid time \"" + text + "\"");
        double value = std::stod(text.substr(start, i - start));
        std::size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        std::string unit = text.substr(unit_start, i - unit_start);
        double scale = unit == "h" ? 3600e9 : unit == "m" ? 60e9 : unit == "s" ? 1e9 : unit == "ms" ? 1e6 : unit == "us" ? 1e3 : unit == "ns" ? 1 : 0;
        if (scale == 0) throw Error("invalid time \"" + text + "\"");
        total += static_cast<std::int64_t>(value * scale);
    }
    return now_ns - total;
}

void read_container_log(const std::string& log_file, const LogOptions& o, int out, int err,
                        const std::function<bool()>& still_running) {
    UniqueFd fd(::open(log_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT && !o.follow) return;  // never started: no output yet
        if (errno != ENOENT) throw_errno("open " + log_file);
    }
    std::string pending;
    std::deque<Entry> tail;
    bool backlog = true;  // still reading what was there before following
    bool draining = false;
    char buf[65536];
    for (;;) {
        if (!fd) fd.reset(::open(log_file.c_str(), O_RDONLY | O_CLOEXEC));
        ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf) : 0;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read " + log_file);
        if (n > 0) {
            pending.append(buf, static_cast<std::size_t>(n));
            std::size_t start = 0, nl;
            while ((nl = pending.find('\n', start)) != std::string::npos) {
                Entry e;
                if (parse_entry(std::string_view(pending).substr(start, nl - start), e) && wanted(e, o)) {
                    if (backlog && o.tail) {
                        tail.push_back(std::move(e));
                        if (tail.size() > *o.tail) tail.pop_front();
                    } else {
                        emit(e, o, out, err);
                    }
                }
                start = nl + 1;
            }
            pending.erase(0, start);
            continue;
        }
        if (backlog) {
            for (const auto& e : tail) emit(e, o, out, err);
            tail.clear();
            backlog = false;
        }
        if (!o.follow || draining) return;
        if (o.until_ns && unix_now_ns() > o.until_ns) return;
        if (!still_running()) {
            draining = true;  // one more pass: the monitor may have written its last lines meanwhile
            continue;
        }
        ::usleep(50 * 1000);
    }
}

}  // namespace kiln::runtime
