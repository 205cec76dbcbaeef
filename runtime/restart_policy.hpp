#pragma once
// `--restart no|always|unless-stopped|on-failure[:N]`, parsed and checked as the docker
// CLI and daemon do. runtime/monitor/restart_rules.hpp applies it.
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/host_settings.hpp"

namespace kiln::runtime {

// "" means "no". Throws kiln::Error with Docker's wording for an unknown policy, a count
// that is not an integer, negative, or given with a policy other than on-failure.
RestartPolicy parse_restart_policy(const std::string& text);

// The marker a `kiln stop` leaves in a running container's runtime dir, so that its
// monitor does not start it again.
std::string no_restart_marker(const std::string& container_id);
// The marker a monitor keeps there while it waits to restart the container (Docker's
// State.Restarting).
std::string restarting_marker(const std::string& container_id);

// Writes the no-restart marker (nothing if the container does not run).
void forbid_restart(const std::string& container_id);
// While the container's monitor waits to restart it: the exit code and time (unix ns)
// of the run that ended, which the marker holds.
struct RestartWait {
    int exit_code = 0;
    std::int64_t finished_ns = 0;
};
std::optional<RestartWait> container_restarting(const std::string& container_id);

}  // namespace kiln::runtime
