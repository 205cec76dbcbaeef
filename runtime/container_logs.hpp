#pragma once
// `kiln logs`: reads a container's json-file log (runtime/monitor/json_log.hpp).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace kiln::runtime {

struct LogOptions {
    bool follow = false;
    std::optional<std::size_t> tail;  // the last N entries only
    std::int64_t since_ns = 0;        // 0: from the start
    std::int64_t until_ns = 0;        // 0: no end
    bool timestamps = false;          // prefix each line with its RFC3339Nano time
};

// Writes the entries of log_file to out (stdout entries) and err (stderr entries). With
// follow, keeps reading while still_running() says so, then drains what is left.
void read_container_log(const std::string& log_file, const LogOptions& options, int out, int err,
                        const std::function<bool()>& still_running);

// Docker's --since/--until values: RFC3339 times ("2024-05-01T10:00:00Z", with a fraction
// or an offset), unix seconds ("1714557600", with a fraction), or a duration back from
// now ("10m", "1h30m", "5s"). Throws kiln::Error otherwise.
std::int64_t parse_log_time(const std::string& text, std::int64_t now_ns);

}  // namespace kiln::runtime
