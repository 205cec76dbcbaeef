#include "runtime/monitor/json_log.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace kiln::runtime {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k)
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
    // Overlong forms, surrogates and code points above U+10FFFF.
    if (c == 0xe0 && byte(i + 1) < 0xa0) return 0;
    if (c == 0xed && byte(i + 1) > 0x9f) return 0;
    if (c == 0xf0 && byte(i + 1) < 0x90) return 0;
    if (c == 0xf4 && byte(i + 1) > 0x8f) return 0;
    return len;
}

void append_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            std::size_t len = utf8_sequence(s, i);
            if (len == 0) {
                out += "\\ufffd";
                ++i;
                continue;
            }
            std::string_view seq = s.substr(i, len);
            if (seq == "\xe2\x80\xa8" || seq == "\xe2\x80\xa9")
                out += seq == "\xe2\x80\xa8" ? "\\u2028" : "\\u2029";
            else
                out += seq;
            i += len;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
}

}  // namespace

std::string rfc3339_nano(std::int64_t unix_ns) {
    time_t seconds = static_cast<time_t>(unix_ns / 1000000000);
    long nanos = static_cast<long>(unix_ns % 1000000000);
    if (nanos < 0) {
        nanos += 1000000000;
        --seconds;
    }
    tm utc{};
    ::gmtime_r(&seconds, &utc);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
    std::string out(buf, n);
    if (nanos) {
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%09ld", nanos);
        std::string_view f(frac);
        while (f.back() == '0') f.remove_suffix(1);
        out += f;
    }
    out += 'Z';
    return out;
}

void append_json_log_entry(std::string& out, std::string_view text, std::string_view stream,
                           std::int64_t unix_ns) {
    out += "{\"log\":\"";
    append_escaped(out, text);
    out += "\",\"stream\":\"";
    out += stream;
    out += "\",\"time\":\"";
    out += rfc3339_nano(unix_ns);
    out += "\"}\n";
}

void LogLineSplitter::feed(std::string_view data, std::string_view stream, std::int64_t unix_ns,
                           std::string& out) {
    while (!data.empty()) {
        std::size_t room = max_line - partial_.size();
        std::size_t nl = data.substr(0, room).find('\n');
        if (nl == std::string_view::npos) {
            std::size_t take = std::min(room, data.size());
            partial_.append(data.substr(0, take));
            data.remove_prefix(take);
            if (partial_.size() < max_line) return;
        } else {
            partial_.append(data.substr(0, nl + 1));
            data.remove_prefix(nl + 1);
        }
        append_json_log_entry(out, partial_, stream, unix_ns);
        partial_.clear();
    }
}

void LogLineSplitter::finish(std::string_view stream, std::int64_t unix_ns, std::string& out) {
    if (partial_.empty()) return;
    append_json_log_entry(out, partial_, stream, unix_ns);
    partial_.clear();
}

}  // namespace kiln::runtime
