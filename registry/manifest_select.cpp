#include "registry/manifest_select.hpp"

#include "util/error.hpp"

namespace kiln::registry {

namespace {

std::string normal_arch(const std::string& arch) {
    if (arch == "x86_64" || arch == "x86-64") return "amd64";
    if (arch == "aarch64") return "arm64";
    return arch;
}

// The variant an image or a machine has when it names none (containerd's defaults).
std::string default_variant(const std::string& arch) {
    if (arch == "arm64") return "v8";
    if (arch == "arm") return "v7";
    if (arch == "amd64") return "v1";
    return "";
}

// "v7" → 7; nullopt for anything else.
std::optional<int> variant_number(const std::string& v) {
    if (v.size() < 2 || v.size() > 3 || v[0] != 'v') return std::nullopt;
    int n = 0;
    for (std::size_t i = 1; i < v.size(); ++i) {
        if (v[i] < '0' || v[i] > '9') return std::nullopt;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

// Architectures whose newer variants run the older ones' code.
bool backward_compatible(const std::string& arch) { return arch == "arm" || arch == "amd64"; }

}  // namespace

std::optional<int> platform_rank(const image::Platform& have, const image::Platform& want) {
    const std::string arch = normal_arch(want.architecture);
    if (have.os != want.os || normal_arch(have.architecture) != arch) return std::nullopt;
    const std::string have_variant = have.variant.empty() ? default_variant(arch) : have.variant;
    if (want.variant.empty()) return have_variant == default_variant(arch) ? 2 : 1;
    const std::string want_variant = want.variant;
    if (have_variant == want_variant) return 100;
    if (!backward_compatible(arch)) return std::nullopt;
    auto h = variant_number(have_variant), w = variant_number(want_variant);
    if (h && w && *h < *w) return 50 + *h;
    return std::nullopt;
}

std::optional<image::Descriptor> choose_manifest(const image::Index& index, const image::Platform& want) {
    std::optional<image::Descriptor> best;
    int best_rank = 0;
    for (const auto& d : index.manifests) {
        if (!d.platform || !image::media::is_manifest(d.media_type)) continue;
        auto rank = platform_rank(*d.platform, want);
        if (rank && *rank > best_rank) {
            best = d;
            best_rank = *rank;
        }
    }
    return best;
}

std::string offered_platforms(const image::Index& index) {
    std::string out;
    for (const auto& d : index.manifests) {
        if (!d.platform || !image::media::is_manifest(d.media_type)) continue;
        if (d.platform->os == "unknown") continue;  // attestation manifests
        std::string p = d.platform->str();
        if (out.find(p) != std::string::npos) continue;
        out += (out.empty() ? "" : ", ") + p;
    }
    return out.empty() ? "none" : out;
}

std::string manifest_kind(const std::string& content_type, const std::string& body) {
    using namespace image::media;
    if (content_type == kDockerManifestV1Signed || content_type == "application/vnd.docker.distribution.manifest.v1+json")
        return std::string(kDockerManifestV1Signed);
    if (is_manifest(content_type) || is_index(content_type)) return content_type;
    if (!content_type.empty() && content_type != "application/json" && content_type != "application/octet-stream" &&
        content_type != "text/plain")
        return content_type;
    // The body decides: its mediaType, else its shape (OCI lets mediaType be absent).
    nlohmann::json j;
    try {
        j = image::parse_json(body, "manifest");
    } catch (const Error&) {
        return content_type;
    }
    if (!j.is_object()) return content_type;
    if (auto v = j.find("schemaVersion"); v != j.end() && *v == 1) return std::string(kDockerManifestV1Signed);
    if (auto m = j.find("mediaType"); m != j.end() && m->is_string()) return m->get<std::string>();
    if (j.contains("manifests")) return std::string(kOciIndex);
    if (j.contains("layers") && j.contains("config")) return std::string(kOciManifest);
    return content_type;
}

image::Compression layer_compression(const std::string& media_type) {
    if (!image::media::is_layer(media_type))
        throw Error("media type " + media_type.substr(0, 120) + " is not an image layer");
    if (media_type.find("nondistributable") != std::string::npos || media_type.find("foreign") != std::string::npos)
        throw Error("non-distributable (foreign) layer " + media_type + " is not pulled by kiln");
    if (media_type.ends_with("gzip")) return image::Compression::Gzip;
    if (media_type.ends_with("zstd")) return image::Compression::Zstd;
    return image::Compression::None;
}

PullableManifest check_manifest(const std::string& body, const std::string& what) {
    PullableManifest out;
    try {
        out.manifest = image::parse_manifest(body);
    } catch (const Error& e) {
        throw Error(what + " is invalid: " + e.what());
    }
    const auto& m = out.manifest;
    if (m.schema_version != 2) throw Error(what + " has schemaVersion " + std::to_string(m.schema_version) + ", not 2");
    if (!m.media_type.empty() && !image::media::is_manifest(m.media_type))
        throw Error(what + " has media type " + m.media_type.substr(0, 120) + ", not an image manifest");
    const auto& config = m.config;
    if (config.media_type != image::media::kOciConfig && config.media_type != image::media::kDockerConfig)
        throw Error(what + " is not a container image: its config has media type " + config.media_type.substr(0, 120));
    if (config.digest.empty()) throw Error(what + ": its config uses digest " + config.other_digest + "; kiln pulls sha256 blobs only");
    if (config.size < 0 || static_cast<std::uint64_t>(config.size) > kMaxConfigSize)
        throw Error(what + ": its config claims " + std::to_string(config.size) + " bytes, more than kiln accepts");
    if (m.layers.size() > kMaxLayers)
        throw Error(what + " has " + std::to_string(m.layers.size()) + " layers, more than " + std::to_string(kMaxLayers));
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const auto& l = m.layers[i];
        const std::string where = what + ": layer " + std::to_string(i + 1);
        try {
            out.compression.push_back(layer_compression(l.media_type));
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        if (l.digest.empty()) throw Error(where + " uses digest " + l.other_digest + "; kiln pulls sha256 blobs only");
        if (l.size < 0) throw Error(where + " has a negative size");
        if (!l.urls.empty()) throw Error(where + " is to be fetched from external URLs, which kiln does not do");
    }
    return out;
}

}  // namespace kiln::registry
