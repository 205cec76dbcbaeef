#pragma once
// Sizes, durations and times written and read the way the docker CLI does (its go-units
// package), so scripts that parse `docker images` or `docker system df` parse kiln too.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

// go-units HumanSizeWithPrecision: decimal units, Go's %.*g ("1.24MB", "512B", "4.2kB").
// Listings use precision 3 (`images`, `history`); totals use 4 (`system df`, prune).
std::string human_size(std::uint64_t bytes, int precision = 3);

// go-units BytesSize: binary units, Go's %.4g ("64MiB", "1.953GiB", "512B"), as `stats`
// prints memory.
std::string bytes_size(std::uint64_t bytes);

// go-units HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks".
std::string human_duration(std::int64_t seconds);

// "5GB", "512mb", "1.5k", "100" (bytes) → bytes, decimal units as go-units FromHumanSize
// reads them; nullopt when malformed.
std::optional<std::uint64_t> parse_human_size(std::string_view text);

// A Go duration ("24h", "1h30m", "90s", "10m") → seconds; nullopt when malformed.
std::optional<std::int64_t> parse_go_duration(std::string_view text);

// Go's time.RFC3339 of a unix time in the local zone ("2024-01-02T03:04:05Z" in UTC).
std::string rfc3339_local(std::int64_t unix_seconds);
// Go's time.Time.String() of a unix time: "2024-01-02 03:04:05 +0000 UTC".
std::string go_time_string(std::int64_t unix_seconds);

}  // namespace kiln
