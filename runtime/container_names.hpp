#pragma once
// Container names as Docker shapes them: given with --name or made up as
// "adjective_surname" (kiln's own word lists), unique within one store.
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::runtime {

// Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+, one leading '/' allowed (and dropped).
// Returns the name without the slash; throws kiln::Error (Docker's wording) otherwise.
std::string validate_container_name(std::string_view name);

// "adjective_surname" picked by `seed` (any bits: a random number in practice); a retry
// after a clash passes a new seed. Docker appends a digit after several clashes; so does
// kiln: attempt > 2 adds attempt as a suffix.
std::string generated_container_name(std::uint64_t seed, int attempt = 0);

}  // namespace kiln::runtime
