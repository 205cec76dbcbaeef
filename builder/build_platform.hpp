#pragma once
// The platforms of a build: kiln builds on this machine, for this machine (RUN executes
// natively, there is no emulation), and defines BuildKit's automatic platform ARGs.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image/oci.hpp"

namespace kiln::builder {

// Whether a build for `platform` can run here: same OS and architecture as this machine,
// and no variant or this machine's.
bool builds_here(const image::Platform& platform);

// `kiln build --platform TEXT` (empty: this machine's). Throws kiln::Error for a malformed
// value or a platform this machine cannot build for, saying which one it can.
image::Platform build_target_platform(const std::string& requested);

// The message for a platform kiln cannot build for; `where` names what asked for it.
std::string foreign_platform_message(const std::string& where, const image::Platform& platform);

// BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT TARGETPLATFORM TARGETOS TARGETARCH
// TARGETVARIANT with their values, as BuildKit defines them in the global scope.
std::vector<std::pair<std::string, std::string>> automatic_platform_args(const image::Platform& build,
                                                                         const image::Platform& target);

}  // namespace kiln::builder
