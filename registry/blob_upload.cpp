// Repository::upload_blob and mount_blob: monolithic POST + PUT for small blobs, chunked
// PATCH for large ones, resumed from the offset the registry reports.
#include <algorithm>
#include <charconv>
#include <memory>

#include "registry/client.hpp"
#include "registry/repository_state.hpp"

namespace kiln::registry {

namespace {

std::string with_query(const std::string& url, const std::string& param) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

// The body of one request: bytes [from, to) of the blob, read through the caller's reader,
// and rewound within that range when libcurl has to send it again.
void set_range_body(http::Request& q, const BlobReader& reader, std::uint64_t from, std::uint64_t to,
                    const std::string& what) {
    auto pos = std::make_shared<std::uint64_t>(from);
    q.reader = [&reader, pos, to, what](void* buf, std::size_t cap) -> std::size_t {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(cap, to - *pos));
        if (want == 0) return 0;
        std::size_t n = reader(*pos, buf, want);
        if (n == 0) throw Error(what + ": the blob's source ended at byte " + std::to_string(*pos));
        *pos += n;
        return n;
    };
    q.seek = [pos, from, to](std::uint64_t offset) {
        if (offset > to - from) return false;
        *pos = from + offset;
        return true;
    };
    q.body_size = to - from;
}

// The offset after an upload's Range header "0-LAST" (some registries write "bytes=0-LAST").
// The reference registry reports an empty upload as "0-0" too: `known` (what the registry
// confirmed before) decides between 0 and 1 bytes.
std::optional<std::uint64_t> range_end(std::string range, std::uint64_t known) {
    if (range.starts_with("bytes=")) range = range.substr(6);
    auto dash = range.find('-');
    if (range.empty() || dash == std::string::npos || range.substr(0, dash) != "0") return std::nullopt;
    std::uint64_t last = 0;
    auto text = range.substr(dash + 1);
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), last);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    if (last == 0 && known == 0) return 0;
    return last + 1;
}

}  // namespace

namespace {

// Opens an upload session: its Location.
std::string start_upload(Transport& t, const std::string& url, const std::string& what) {
    http::Response r = t.send(bare_request("POST", url), what, 0, Transport::kUnreachableAttempts);
    if (r.status != 202 || r.header("location").empty()) t.fail(what, r);
    return http::resolve_url(url, r.header("location"));
}

// PATCHes the blob chunk by chunk from offset 0; chunk_end(offset) gives where the chunk
// starting at offset ends (offset itself: nothing more to send). After a failure asks the
// registry where the upload is and goes on from there, or from 0 with a new session when
// the registry lost it. Leaves location at the session's latest Location.
void upload_chunks(Transport& t, std::string& location, const std::function<std::string()>& restart,
                   const std::function<std::uint64_t(std::uint64_t)>& chunk_end, const BlobReader& reader,
                   const std::string& what, const std::string& prefix, const std::function<void(std::uint64_t)>& sent) {
    std::uint64_t offset = 0;
    int failures = 0;
    for (;;) {
        const std::uint64_t end = chunk_end(offset);
        if (end <= offset) return;
        ExchangeResult r = t.exchange([&] {
            http::Request q;
            q.method = "PATCH";
            q.url = location;
            q.headers.push_back("Content-Type: application/octet-stream");
            q.headers.push_back("Content-Range: " + std::to_string(offset) + "-" + std::to_string(end - 1));
            set_range_body(q, reader, offset, end, prefix);
            return q;
        });
        if (r.response && r.response->status == 202) {
            // Always the latest Location: the reference registry signs the offset into it.
            if (auto l = r.response->header("location"); !l.empty()) location = http::resolve_url(location, l);
            auto confirmed = range_end(r.response->header("range"), offset);
            offset = confirmed ? *confirmed : end;
            if (offset > end) throw Error(prefix + ": the registry reports more bytes than were sent");
            failures = 0;
            if (sent) sent(offset);
            continue;
        }
        bool lost = r.response && (r.response->status == 404 || r.response->status == 416 || r.response->status == 400);
        if (r.response && !lost && !Transport::retryable(*r.response)) t.fail(what, *r.response);
        if (!r.response && !Transport::retryable(r.error)) t.fail(what, r.error, failures + 1);
        if (++failures >= Transport::attempt_limit(r, Transport::kUnreachableAttempts)) {
            if (r.response) throw Error(t.describe(what, *r.response) + " after " + std::to_string(failures) + " attempts");
            t.fail(what, r.error, failures);
        }
        Transport::backoff(failures, r.response ? &*r.response : nullptr);

        // Where is the upload now? The registry may hold part of the chunk, or (restarted, or
        // the upload expired) nothing at all.
        ExchangeResult status = t.exchange(bare_request("GET", location));
        if (status.response && status.response->status == 204) {
            if (auto l = status.response->header("location"); !l.empty()) location = http::resolve_url(location, l);
            auto confirmed = range_end(status.response->header("range"), offset);
            offset = confirmed ? std::min(*confirmed, end) : 0;
        } else if (status.response && status.response->status >= 400 && status.response->status < 500) {
            location = restart();
            offset = 0;
        }
        // Otherwise (no answer, 5xx) the registry is still away: try the same chunk again.
    }
}

// Closes an upload with the blob's digest.
void finish_upload(Transport& t, const std::string& location, const Digest& digest, const std::string& what) {
    std::string final_url = with_query(location, "digest=" + http::query_escape(digest.str()));
    http::Response r = t.send(
        [&] {
            http::Request q;
            q.method = "PUT";
            q.url = final_url;
            q.headers.push_back("Content-Type: application/octet-stream");
            return q;
        },
        what, 0, Transport::kUnreachableAttempts);
    if (r.status != 201) t.fail(what, r);
}

}  // namespace

void Repository::upload_blob(const Digest& digest, std::uint64_t size, const BlobReader& reader, const Progress& progress) {
    Transport& t = state_->origin();
    std::string what = "blob " + digest.str();
    std::string prefix = "registry " + t.endpoint().host + ": " + what;
    std::string digest_param = "digest=" + http::query_escape(digest.str());
    const std::string uploads = t.url(state_->api("/blobs/uploads/"));
    auto start_session = [&] { return start_upload(t, uploads, what); };

    if (size <= kMonolithicUploadLimit) {
        for (int attempt = 1;; ++attempt) {
            std::string location = start_session();
            ExchangeResult r = t.exchange([&] {
                http::Request q;
                q.method = "PUT";
                q.url = with_query(location, digest_param);
                q.headers.push_back("Content-Type: application/octet-stream");
                set_range_body(q, reader, 0, size, prefix);
                return q;
            });
            if (r.response && r.response->status == 201) {
                if (progress) progress(size, size);
                return;
            }
            if (r.response && !Transport::retryable(*r.response)) t.fail(what, *r.response);
            if (!r.response && !Transport::retryable(r.error)) t.fail(what, r.error, attempt);
            if (attempt >= Transport::attempt_limit(r, Transport::kUnreachableAttempts)) {
                if (r.response) throw Error(t.describe(what, *r.response) + " after " + std::to_string(attempt) + " attempts");
                t.fail(what, r.error, attempt);
            }
            Transport::backoff(attempt, r.response ? &*r.response : nullptr);
        }
    }

    std::string location = start_session();
    upload_chunks(
        t, location, start_session, [&](std::uint64_t offset) { return std::min(offset + kUploadChunkSize, size); },
        reader, what, prefix, [&](std::uint64_t done) {
            if (progress) progress(done, size);
        });
    finish_upload(t, location, digest, what);
    if (progress) progress(size, size);
}

std::pair<Digest, std::uint64_t> Repository::upload_growing_blob(const GrowingBlob& blob, const Progress& progress) {
    Transport& t = state_->origin();
    const std::string what = "blob of layer " + blob.name;
    const std::string prefix = "registry " + t.endpoint().host + ": " + what;
    const std::string uploads = t.url(state_->api("/blobs/uploads/"));
    auto start_session = [&] { return start_upload(t, uploads, what); };
    std::string location = start_session();
    upload_chunks(
        t, location, start_session, [&](std::uint64_t offset) { return offset + blob.wait(offset, kStreamChunkSize); },
        blob.read, what, prefix, [&](std::uint64_t done) {
            if (progress) progress(done, 0);
        });
    auto [digest, size] = blob.complete();
    finish_upload(t, location, digest, "blob " + digest.str());
    if (progress) progress(size, size);
    return {digest, size};
}

bool Repository::mount_blob(const Digest& digest, const std::string& from_path) {
    Transport& t = state_->origin();
    std::string what = "blob " + digest.str() + " (mount from " + from_path + ")";
    t.add_scopes({auth::repository_scope(from_path, false)});
    std::string url = t.url(state_->api("/blobs/uploads/?mount=" + http::query_escape(digest.str()) +
                                        "&from=" + http::query_escape(from_path)));
    http::Response r = t.send(
        bare_request("POST", url),
        what);
    if (r.status == 201) return true;
    if (r.status == 202 && !r.header("location").empty()) {
        // Not mounted: the registry opened an upload instead. Close it (failures do not matter).
        std::string location = http::resolve_url(url, r.header("location"));
        t.exchange(bare_request("DELETE", location));
    }
    return false;
}

}  // namespace kiln::registry
