#include "builder/build_platform.hpp"

#include "util/error.hpp"

namespace kiln::builder {

bool builds_here(const image::Platform& platform) {
    const image::Platform host = image::host_platform();
    // amd64/v1 is plain amd64 (containerd normalises it away).
    const bool no_variant = platform.variant.empty() || (platform.architecture == "amd64" && platform.variant == "v1");
    return platform.os == host.os && platform.architecture == host.architecture &&
           (no_variant || platform.variant == host.variant);
}

std::string foreign_platform_message(const std::string& where, const image::Platform& platform) {
    return where + ": kiln builds only for this machine's platform " + image::host_platform().str() +
           " (RUN executes natively, without emulation), not " + platform.str();
}

image::Platform build_target_platform(const std::string& requested) {
    if (requested.empty()) return image::host_platform();
    image::Platform platform;
    try {
        platform = image::parse_platform(requested);
    } catch (const Error& e) {
        throw Error("invalid --platform \"" + requested + "\": " + e.what());
    }
    if (!builds_here(platform)) throw Error(foreign_platform_message("--platform " + requested, platform));
    return platform;
}

std::vector<std::pair<std::string, std::string>> automatic_platform_args(const image::Platform& build,
                                                                         const image::Platform& target) {
    return {{"BUILDPLATFORM", build.str()},   {"BUILDOS", build.os},
            {"BUILDARCH", build.architecture}, {"BUILDVARIANT", build.variant},
            {"TARGETPLATFORM", target.str()}, {"TARGETOS", target.os},
            {"TARGETARCH", target.architecture}, {"TARGETVARIANT", target.variant}};
}

}  // namespace kiln::builder
