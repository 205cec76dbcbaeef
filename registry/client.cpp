// Repository: manifests and tags (blobs are in blob_download.cpp and blob_upload.cpp), and the
// catalog.
#include "registry/client.hpp"

#include <algorithm>
#include <regex>

#include <nlohmann/json.hpp>

#include "registry/repository_state.hpp"
#include "registry/session_state.hpp"

namespace kiln::registry {

const std::vector<std::string> kManifestMediaTypes = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
};

namespace {

std::string accept_header() {
    std::string value;
    for (const auto& t : kManifestMediaTypes) value += (value.empty() ? "" : ", ") + t;
    return "Accept: " + value;
}

std::string without_parameters(const std::string& content_type) {
    std::string t = content_type.substr(0, content_type.find(';'));
    while (!t.empty() && t.back() == ' ') t.pop_back();
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    return t;
}

bool known_manifest_type(const std::string& t) {
    return std::find(kManifestMediaTypes.begin(), kManifestMediaTypes.end(), t) != kManifestMediaTypes.end();
}

std::optional<Digest> header_digest(const http::Response& r) {
    std::string d = r.header("docker-content-digest");
    if (d.empty() || !Digest::valid(d)) return std::nullopt;
    return Digest::parse(d);
}

// The next page of a paginated list: `Link: </v2/...?last=x&n=100>; rel="next"`.
std::optional<std::string> next_link(const http::Response& r) {
    for (const auto& value : r.header_values("link")) {
        auto open = value.find('<'), close = value.find('>');
        if (open == std::string::npos || close == std::string::npos || close < open) continue;
        if (value.find("rel=\"next\"", close) == std::string::npos && value.find("rel=next", close) == std::string::npos)
            continue;
        return value.substr(open + 1, close - open - 1);
    }
    return std::nullopt;
}

constexpr int kMaxPages = 10000;

}  // namespace

void check_reference_text(const std::string& reference) {
    static const std::regex tag("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");
    if (Digest::valid(reference) || std::regex_match(reference, tag)) return;
    throw Error("invalid tag or digest: " + reference.substr(0, 200));
}

Repository::State::State(Session& s, const image::Reference& ref, Access a)
    : session(s), domain(ref.domain), path(ref.path), access(a) {
    auto scope = auth::repository_scope(path, a == Access::PullPush);
    for (auto& endpoint : s.state().endpoints(domain, a == Access::PullPush))
        transports.push_back(std::make_unique<Transport>(s.state(), std::move(endpoint), std::vector<std::string>{scope}));
}

Repository::Repository(Session& session, const image::Reference& ref, Access access)
    : state_(std::make_unique<State>(session, ref, access)) {}
Repository::~Repository() = default;

const std::string& Repository::domain() const { return state_->domain; }
const std::string& Repository::path() const { return state_->path; }

ManifestResponse Repository::get_manifest(const std::string& reference) {
    check_reference_text(reference);
    std::string what = "manifest " + reference;
    return state_->with_endpoint([&](Transport& t, bool last) {
        http::Response r = t.send(
            [&] {
                http::Request q;
                q.url = t.url(state_->api("/manifests/" + reference));
                q.headers.push_back(accept_header());
                q.max_body = http::kManifestLimit;
                return q;
            },
            what);
        if (r.status != 200) {
            if (!last) throw MirrorMiss(t.describe(what, r));
            t.fail(what, r);
        }
        ManifestResponse m;
        m.bytes = std::move(r.body);
        m.digest = sha256_of(m.bytes);
        std::string prefix = "registry " + t.endpoint().host + ": " + what + ": ";
        if (Digest::valid(reference) && m.digest != Digest::parse(reference))
            throw Error(prefix + "content has digest " + m.digest.str() + ", not the one asked for");
        if (auto d = header_digest(r); d && *d != m.digest)
            throw Error(prefix + "Docker-Content-Digest " + d->str() + " does not match the content (" + m.digest.str() + ")");
        auto doc = nlohmann::json::parse(m.bytes, nullptr, false);
        if (!doc.is_object()) throw Error(prefix + "not a JSON object");
        std::string body_type = doc.value("mediaType", nlohmann::json()).is_string() ? doc["mediaType"].get<std::string>() : "";
        std::string content_type = without_parameters(r.header("content-type"));
        if (known_manifest_type(content_type)) {
            if (!body_type.empty() && body_type != content_type)
                throw Error(prefix + "served as " + content_type + " but its mediaType is " + body_type.substr(0, 100));
            m.media_type = content_type;
        } else if (known_manifest_type(body_type) && (content_type.empty() || content_type == "application/json" ||
                                                      content_type == "text/plain")) {
            // Some registries serve every manifest as application/json; the body says what it is.
            m.media_type = body_type;
        } else {
            std::string shown = content_type.empty() ? body_type : content_type;
            throw Error(prefix + "unsupported manifest media type " + (shown.empty() ? "(none)" : shown.substr(0, 100)));
        }
        return m;
    });
}

std::optional<Digest> Repository::head_manifest(const std::string& reference) {
    check_reference_text(reference);
    std::string what = "manifest " + reference;
    auto found = state_->with_endpoint([&](Transport& t, bool last) -> std::optional<std::optional<Digest>> {
        http::Response r = t.send(
            [&] {
                http::Request q;
                q.method = "HEAD";
                q.url = t.url(state_->api("/manifests/" + reference));
                q.headers.push_back(accept_header());
                return q;
            },
            what);
        if (r.status == 404 && last) return std::optional<Digest>();
        if (r.status != 200) {
            if (!last) throw MirrorMiss(t.describe(what, r));
            t.fail(what, r);
        }
        if (auto d = header_digest(r)) return std::optional<Digest>(*d);
        return std::nullopt;  // no digest header: ask with a GET
    });
    if (found) return *found;
    return get_manifest(reference).digest;
}

Digest Repository::put_manifest(const std::string& reference, const std::string& media_type, const std::string& bytes) {
    check_reference_text(reference);
    if (bytes.size() > http::kManifestLimit) throw Error("manifest larger than 4 MiB: registries refuse it");
    std::string what = "manifest " + reference;
    Transport& t = state_->origin();
    http::Response r = t.send(
        [&] {
            http::Request q;
            q.method = "PUT";
            q.url = t.url(state_->api("/manifests/" + reference));
            q.headers.push_back("Content-Type: " + media_type);
            q.body = bytes;
            return q;
        },
        what);
    if (r.status != 201 && r.status != 200 && r.status != 202) t.fail(what, r);
    Digest digest = sha256_of(bytes);
    if (auto d = header_digest(r); d && *d != digest)
        throw Error("registry " + t.endpoint().host + ": " + what + ": stored with digest " + d->str() +
                    ", not the pushed " + digest.str());
    return digest;
}

std::vector<std::string> Repository::tags() {
    std::string what = "tags of " + state_->path;
    return state_->with_endpoint([&](Transport& t, bool last) {
        std::vector<std::string> out;
        std::string url = t.url(state_->api("/tags/list?n=1000"));
        for (int page = 0; page < kMaxPages; ++page) {
            http::Response r = t.send(
                bare_request("GET", url),
                what);
            if (r.status != 200) {
                if (!last) throw MirrorMiss(t.describe(what, r));
                t.fail(what, r);
            }
            auto doc = nlohmann::json::parse(r.body, nullptr, false);
            if (!doc.is_object()) throw Error("registry " + t.endpoint().host + ": " + what + ": not a JSON object");
            if (auto it = doc.find("tags"); it != doc.end() && it->is_array())
                for (const auto& tag : *it)
                    if (tag.is_string()) out.push_back(tag.get<std::string>());
            auto next = next_link(r);
            if (!next) break;
            url = http::resolve_url(url, *next);
            if (http::url_authority(url) != t.endpoint().host) break;  // a page on another host: not followed
        }
        return out;
    });
}

std::vector<std::string> catalog(Session& session, const std::string& domain, std::size_t limit) {
    auto endpoints = session.state().endpoints(domain, true);
    Transport t(session.state(), std::move(endpoints.back()), {auth::kCatalogScope});
    std::string what = "catalog";
    std::vector<std::string> out;
    std::size_t page_size = std::clamp<std::size_t>(limit, 1, 1000);
    std::string url = t.url("/v2/_catalog?n=" + std::to_string(page_size));
    for (int page = 0; page < kMaxPages && out.size() < limit; ++page) {
        http::Response r = t.send(
            bare_request("GET", url),
            what);
        if (r.status != 200) t.fail(what, r);
        auto doc = nlohmann::json::parse(r.body, nullptr, false);
        if (!doc.is_object()) throw Error("registry " + t.endpoint().host + ": catalog: not a JSON object");
        if (auto it = doc.find("repositories"); it != doc.end() && it->is_array())
            for (const auto& name : *it)
                if (name.is_string() && out.size() < limit) out.push_back(name.get<std::string>());
        auto next = next_link(r);
        if (!next) break;
        url = http::resolve_url(url, *next);
        if (http::url_authority(url) != t.endpoint().host) break;
    }
    return out;
}

}  // namespace kiln::registry
