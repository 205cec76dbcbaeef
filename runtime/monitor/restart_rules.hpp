#pragma once
// Docker's restart manager, for kiln-monitor (which links nothing of kiln's): whether a
// container that exited is started again, and after how long. Header only, plain values.
#include <cstdint>
#include <string_view>

namespace kiln::runtime {

// Docker's ShouldRestart: `always` and `unless-stopped` every time, `on-failure` after a
// non-zero exit while fewer than max_retries restarts happened (0: no limit), `no` never.
// A container stopped by `kiln stop` is never restarted; the caller checks that first.
inline bool should_restart(std::string_view policy, int max_retries, int restarts_so_far, int exit_code) {
    if (policy == "always" || policy == "unless-stopped") return true;
    if (policy == "on-failure") return exit_code != 0 && (max_retries == 0 || restarts_so_far < max_retries);
    return false;
}

// Docker's backoff: 100 ms, doubled at each restart up to a minute, and back to 100 ms
// after a run of 10 seconds or more.
inline std::int64_t next_restart_delay_ms(std::int64_t previous_ms, std::int64_t ran_ns) {
    constexpr std::int64_t first = 100, most = 60000;
    if (ran_ns >= 10'000'000'000 || previous_ms <= 0) return first;
    return previous_ms * 2 > most ? most : previous_ms * 2;
}

}  // namespace kiln::runtime
