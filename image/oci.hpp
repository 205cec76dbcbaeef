#pragma once
// OCI / Docker image JSON types: config, manifest, index, descriptors, media types.
// Parsing validates the type of every field it knows and throws kiln::Error on hostile
// input; fields it does not know are kept and written back unchanged.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.hpp"

namespace kiln::image {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayout = "application/vnd.oci.layout.header.v1+json";

inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifestV1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

bool is_manifest(std::string_view media_type) noexcept;  // OCI or Docker v2s2 image manifest
bool is_index(std::string_view media_type) noexcept;     // OCI index or Docker manifest list
bool is_layer(std::string_view media_type) noexcept;     // any tar layer type above
}  // namespace media

// The platform this binary runs on, in OCI/Go terms: "amd64", "arm64", "arm", "386", …
std::string platform_arch();
std::string platform_os();       // "linux"
std::string platform_variant();  // "v8" on arm64, "v7" on arm, else ""

struct Platform {
    std::string architecture;
    std::string os;
    std::string os_version;
    std::vector<std::string> os_features;
    std::string variant;

    // os/arch[/variant], e.g. "linux/arm64/v8".
    std::string str() const;
    friend bool operator==(const Platform&, const Platform&) = default;
};

bool valid_media_type(std::string_view text) noexcept;
// OCI digest grammar: algorithm ":" encoded; sha256/sha512 must be lowercase hex of their size.
bool valid_digest_string(std::string_view text) noexcept;

// Parses "linux/amd64", "linux/arm64/v8", "amd64" (os defaults to linux); throws kiln::Error.
Platform parse_platform(std::string_view text);
Platform host_platform();
// True when an image for `have` runs on `want` (os and arch equal; variant equal or unset).
bool platform_matches(const Platform& have, const Platform& want);

struct Descriptor {
    std::string media_type;
    Digest digest;             // sha256 (the one kiln uses); empty when other_digest is set
    std::string other_digest;  // a valid digest of another algorithm ("sha512:…"), kept as text
    std::int64_t size = 0;
    std::vector<std::string> urls;
    std::map<std::string, std::string> annotations;
    std::optional<Platform> platform;
    std::string artifact_type;
    nlohmann::json extra = nlohmann::json::object();  // unknown fields, kept
};

struct HealthConfig {
    std::vector<std::string> test;  // ["CMD", …], ["CMD-SHELL", "…"], ["NONE"]
    std::int64_t interval = 0;      // nanoseconds; 0 = inherit/default
    std::int64_t timeout = 0;
    std::int64_t start_period = 0;
    std::int64_t start_interval = 0;
    int retries = 0;
    friend bool operator==(const HealthConfig&, const HealthConfig&) = default;
};

// The "config" section (what docker calls the container config of an image).
struct ContainerConfig {
    std::string user;
    std::vector<std::string> env;
    std::optional<std::vector<std::string>> entrypoint;  // nullopt = unset (JSON null/absent)
    std::optional<std::vector<std::string>> cmd;
    std::string working_dir;
    std::map<std::string, std::string> labels;
    std::vector<std::string> exposed_ports;  // "80/tcp", sorted, unique
    std::vector<std::string> volumes;        // "/data", sorted, unique
    std::string stop_signal;
    std::optional<HealthConfig> healthcheck;
    std::vector<std::string> on_build;
    std::optional<std::vector<std::string>> shell;
    std::optional<std::int64_t> stop_timeout;  // seconds (docker extension)
    bool args_escaped = false;                  // docker's Windows-only flag; kept on round trip
};

struct HistoryEntry {
    std::string created;  // RFC 3339
    std::string created_by;
    std::string author;
    std::string comment;
    bool empty_layer = false;
    nlohmann::json extra = nlohmann::json::object();  // unknown fields, kept
    friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

struct ImageConfig {
    std::string architecture;
    std::string os;
    std::string os_version;
    std::string variant;
    std::string created;  // RFC 3339, may be empty
    std::string author;
    ContainerConfig config;
    std::vector<Digest> diff_ids;  // rootfs.diff_ids, bottom layer first
    std::vector<HistoryEntry> history;
    nlohmann::json extra = nlohmann::json::object();  // the parsed document: unknown fields
};

struct Manifest {
    int schema_version = 2;
    std::string media_type;  // kOciManifest or kDockerManifest (may be empty in OCI)
    std::string artifact_type;
    Descriptor config;
    std::vector<Descriptor> layers;
    std::optional<Descriptor> subject;
    std::map<std::string, std::string> annotations;
    nlohmann::json extra = nlohmann::json::object();
};

struct Index {
    int schema_version = 2;
    std::string media_type;  // kOciIndex or kDockerManifestList (may be empty in OCI)
    std::string artifact_type;
    std::vector<Descriptor> manifests;
    std::optional<Descriptor> subject;
    std::map<std::string, std::string> annotations;
    nlohmann::json extra = nlohmann::json::object();
};

// Parse: throw kiln::Error naming the field on invalid JSON, wrong types, or values the
// OCI image spec forbids (media type and digest grammar, unpadded base64 "data", relative
// "urls", Env entries without "=", missing required fields). One deliberate leniency: a
// manifest with an empty "layers" array is accepted (BuildKit writes those for FROM scratch).
ImageConfig parse_image_config(std::string_view json);
Manifest parse_manifest(std::string_view json);
Index parse_index(std::string_view json);
Descriptor descriptor_from_json(const nlohmann::json& j, const std::string& where = "descriptor");

// JSON values (unknown fields of `extra` overlaid with the typed fields).
nlohmann::json to_json(const ImageConfig& c);
nlohmann::json to_json(const Manifest& m);
nlohmann::json to_json(const Index& i);
nlohmann::json to_json(const Descriptor& d);

// Canonical bytes: compact, keys sorted. The digest of these bytes is the object's id.
std::string serialize(const ImageConfig& c);
std::string serialize(const Manifest& m);
std::string serialize(const Index& i);
std::string canonical_json(const nlohmann::json& j);

// Parses JSON text with a nesting-depth limit; throws kiln::Error("<what>: …").
nlohmann::json parse_json(std::string_view text, const std::string& what);

}  // namespace kiln::image
