#pragma once
// Go's fmt renderings that Docker's builders write into image history (`created_by`):
// BuildKit formats its commands with %q, %v and %+v, so kiln writes the same text.
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::builder {

// time.Duration.String(): "0s", "1.5s", "1m30s", "1h0m0s", "500ms", "1µs", "-2s".
std::string go_duration(std::int64_t nanoseconds);

// fmt %q of a []string: `["a" "b c"]`, each element as strconv.Quote writes it.
std::string go_quoted_list(const std::vector<std::string>& items);

// fmt %v of a []string: `[a b c]`.
std::string go_list(const std::vector<std::string>& items);

}  // namespace kiln::builder
