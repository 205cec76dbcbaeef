#pragma once
// Reproducible builds (SOURCE_DATE_EPOCH, as BuildKit reads it): one instant stands for
// every time the build would otherwise write.
#include <cstdint>
#include <optional>
#include <string>

namespace kiln::builder {

// A SOURCE_DATE_EPOCH value: decimal seconds since 1970, nothing else. Throws kiln::Error.
std::int64_t parse_source_date_epoch(const std::string& text);

// RFC 3339 UTC in whole seconds ("2023-11-14T22:13:20Z"), as BuildKit writes the epoch.
std::string rfc3339_utc(std::int64_t unix_seconds);

// Sets every mtime under dir (dir itself too) that is later than epoch to epoch, never
// following a symlink (BuildKit's rewrite-timestamp: a layer tar of dir then carries no
// build time). Whiteouts and symlinks are clamped like files.
void clamp_tree_mtimes(const std::string& dir, std::int64_t epoch);

}  // namespace kiln::builder
