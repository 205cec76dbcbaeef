#pragma once
// Docker's json-file log format, one JSON object per line:
//   {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
// Written by kiln-monitor (which links only this and the C++ runtime), read by `kiln logs`.
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::runtime {

// Go's time.RFC3339Nano in UTC for unix nanoseconds: trailing zeros of the fraction
// dropped, and the dot with them when it is all zeros, as Docker writes it.
std::string rfc3339_nano(std::int64_t unix_ns);

// Appends one log entry and its '\n' to out. Text is escaped as Go's encoding/json does
// (", \, control characters, <, >, &, U+2028/9; invalid UTF-8 becomes U+FFFD).
void append_json_log_entry(std::string& out, std::string_view text, std::string_view stream,
                           std::int64_t unix_ns);

// Splits a stream's output into Docker's log messages: each '\n'-terminated line, or
// max_line bytes of a longer one. Call feed() with what was read and take() the entries.
class LogLineSplitter {
public:
    static constexpr std::size_t max_line = 16 * 1024;
    // Appends entries for the complete lines in data to out; keeps the rest.
    void feed(std::string_view data, std::string_view stream, std::int64_t unix_ns, std::string& out);
    // At end of stream: what is left, as one entry without a newline.
    void finish(std::string_view stream, std::int64_t unix_ns, std::string& out);

private:
    std::string partial_;
};

}  // namespace kiln::runtime
