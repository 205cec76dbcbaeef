#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "util/digest.hpp"

namespace kiln::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

// A normalized image reference, like distribution/reference's ParseNormalizedNamed +
// TagNameOnly: "busybox" is docker.io / library/busybox : latest.
struct Reference {
    std::string domain;            // "docker.io", "localhost", "localhost:5000", "[::1]:5000"
    std::string path;              // "library/busybox", "a/b"
    std::string tag;               // "latest"; empty when only a digest was given
    std::optional<Digest> digest;  // "@sha256:…"

    // "docker.io/library/busybox:latest", "localhost:5000/a/b:t@sha256:…"
    std::string str() const;
    // As docker prints it: "busybox:latest", "foo/bar:1", "localhost/busybox:latest".
    std::string familiar() const;
    // "docker.io/library/busybox" (no tag, no digest).
    std::string repository() const;
    // familiar() without tag and digest: "busybox", "localhost/busybox".
    std::string familiar_repository() const;

    friend bool operator==(const Reference&, const Reference&) = default;
};

// Parses and normalizes a reference; throws kiln::Error ("invalid reference format: …")
// for anything docker would reject. A missing tag becomes "latest" unless a digest is given.
Reference parse_reference(std::string_view text);

// Same, but returns nullopt instead of throwing.
std::optional<Reference> try_parse_reference(std::string_view text) noexcept;

// True when text can only mean an image id: "sha256:<1..64 lowercase hex>" or a bare
// 64-character lowercase hex string (docker refuses those as repository names).
bool looks_like_image_id(std::string_view text) noexcept;

// True when text could be a (short) image id prefix: 1..64 lowercase hex characters,
// optionally after "sha256:". Names like "cafe" are both; try the name first.
bool could_be_image_id_prefix(std::string_view text) noexcept;

}  // namespace kiln::image
