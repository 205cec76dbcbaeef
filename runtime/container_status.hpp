#pragma once
// How `ps` describes and selects containers, as the docker CLI does: status strings
// ("Up 3 seconds", "Exited (0) 5 seconds ago", "Created"), Docker's human durations and
// the --filter keys status, name, id, label, ancestor, exited.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/container_config.hpp"
#include "runtime/container_records.hpp"

namespace kiln::runtime {

// Docker's units.HumanDuration: "Less than a second", "1 second", "About a minute",
// "3 hours", "2 weeks", …
std::string human_duration(std::int64_t ns);

// Docker's State.Status: "created", "running", "paused", "restarting", "exited".
std::string docker_state(const ContainerRow& row);
// The STATUS column.
std::string status_text(const ContainerRow& row, std::int64_t now_ns);

struct PsFilter {
    std::string key, value;
};
// "key=value"; throws kiln::Error (Docker's wording) for an unknown key or a bad value.
PsFilter parse_ps_filter(const std::string& text);

// Docker's semantics: values of one key are alternatives, different keys must all match.
// `ancestor` matches the image as the container names it, its id or an id prefix.
bool ps_filters_match(const std::vector<PsFilter>& filters, const ContainerRow& row, const ContainerConfig& config);

}  // namespace kiln::runtime
