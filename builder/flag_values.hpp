#pragma once
// Strict parsers for `docker run` flag values. Each accepts exactly what the docker CLI
// documents and refuses the rest with one line naming the flag: no hex, octal, nan or
// inf, no trailing junk, nothing out of range.
#include <cstdint>
#include <string>

namespace kiln::builder {

// A size in Docker's units (go-units RAMInBytes): digits with an optional fraction, an
// optional space, then an optional unit b, k, m, g, t or p (binary multiples), optionally
// followed by "i" and/or "b"; case-insensitive. "512m", "1.5g", "2KiB", "1024".
std::int64_t parse_memory_size(const std::string& text, const std::string& flag = "--memory");

// --cpus: a decimal number of CPUs ("1.5", "0.25"); 0 means no limit. At most
// `available` CPUs and at least 0.01, as the Docker daemon checks.
double parse_cpus(const std::string& text, unsigned available);

// --pids-limit: a decimal integer; 0 or -1 mean no limit (as in Docker), other negatives
// are refused. Returns 0 for "no limit".
std::int64_t parse_pids_limit(const std::string& text);

// --memory-swap: a size as parse_memory_size takes it, or -1 for unlimited swap.
std::int64_t parse_memory_swap(const std::string& text);

// --cpu-shares: a decimal integer, 0 for the default weight; negatives are refused.
std::int64_t parse_cpu_shares(const std::string& text);

// --cpuset-cpus: a list of CPU numbers and ranges ("0-1", "0,1", "0-2,5"), each CPU among
// `online` (the same syntax: /sys/devices/system/cpu/online). Returns the list as given;
// "" means every CPU.
std::string parse_cpuset_cpus(const std::string& text, const std::string& online);

}  // namespace kiln::builder
