// Repository::head_blob and get_blob: blob reads, resumed with Range after a failure.
#include <charconv>

#include "registry/client.hpp"
#include "registry/repository_state.hpp"

namespace kiln::registry {

namespace {

constexpr int kMaxRedirects = 5;
// Failures in a row without a byte of progress before a download gives up.
constexpr int kMaxStalledAttempts = Transport::kAttempts;

bool parse_u64(std::string_view text, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && p == text.data() + text.size();
}

// Content-Range "bytes START-END/TOTAL" of a 206 that resumes at `start` of a blob of `size`.
bool range_matches(const std::string& content_range, std::uint64_t start, std::uint64_t size) {
    std::string_view v(content_range);
    if (!v.starts_with("bytes ")) return false;
    v.remove_prefix(6);
    auto dash = v.find('-'), slash = v.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return false;
    std::uint64_t first = 0, last = 0, total = 0;
    if (!parse_u64(v.substr(0, dash), first) || !parse_u64(v.substr(dash + 1, slash - dash - 1), last)) return false;
    std::string_view total_text = v.substr(slash + 1);
    if (total_text != "*" && (!parse_u64(total_text, total) || total != size)) return false;
    return first == start && last + 1 == size;
}

}  // namespace

std::optional<std::uint64_t> Repository::head_blob(const Digest& digest) {
    std::string what = "blob " + digest.str();
    return state_->with_endpoint([&](Transport& t, bool last) -> std::optional<std::uint64_t> {
        http::Response r = t.send(
            [&] {
                http::Request q;
                q.method = "HEAD";
                q.url = t.url(state_->api("/blobs/" + digest.str()));
                return q;
            },
            what, kMaxRedirects);
        if (r.status == 404 && last) return std::nullopt;
        if (r.status != 200) {
            if (!last) throw MirrorMiss(t.describe(what, r));
            t.fail(what, r);
        }
        std::uint64_t size = 0;
        if (!parse_u64(r.header("content-length"), size))
            throw Error("registry " + t.endpoint().host + ": " + what + ": HEAD answered without a Content-Length");
        return size;
    });
}

void Repository::get_blob(const Digest& digest, std::uint64_t size, const BlobSink& sink, const Progress& progress,
                          const std::function<void()>& restart) {
    std::string what = "blob " + digest.str();
    // Shared by every attempt and every endpoint: a download that moves from a mirror to the
    // registry continues where it was.
    std::uint64_t offset = 0;
    Sha256 hasher;

    state_->with_endpoint([&](Transport& t, bool last) {
        std::string prefix = "registry " + t.endpoint().host + ": " + what + ": ";
        int stalled = 0;
        for (;;) {
            std::uint64_t start = offset;
            auto make = [&, start] {
                http::Request q;
                q.url = t.url(state_->api("/blobs/" + digest.str()));
                if (start > 0) q.headers.push_back("Range: bytes=" + std::to_string(start) + "-");
                q.before_sink = [&, start](const http::Response& r) {
                    if (start > 0 && r.status == 206) {
                        if (!range_matches(r.header("content-range"), start, size))
                            throw Error(prefix + "resumed at the wrong range (" + r.header("content-range").substr(0, 80) + ")");
                        return;
                    }
                    if (r.status == 206) throw Error(prefix + "partial content that was not asked for");
                    if (start > 0) {
                        // The registry ignored Range and sends the whole blob again.
                        if (!restart) throw Error(prefix + "the registry cannot resume a download (it ignored Range)");
                        restart();
                        offset = 0;
                        hasher = Sha256();
                    }
                    std::uint64_t length = 0;
                    if (parse_u64(r.header("content-length"), length) && length != size)
                        throw Error(prefix + "the registry sends " + std::to_string(length) + " bytes, expected " +
                                    std::to_string(size));
                };
                q.sink = [&](const char* data, std::size_t n) {
                    if (offset + n > size)
                        throw Error(prefix + "more than the expected " + std::to_string(size) + " bytes");
                    hasher.update(data, n);
                    sink(data, n);
                    offset += n;
                    if (progress) progress(offset, size);
                };
                return q;
            };
            ExchangeResult r = t.exchange(make, kMaxRedirects);
            const http::Response* failed_response = nullptr;
            if (r.response) {
                const http::Response& resp = *r.response;
                if (resp.status == 200 || resp.status == 206) {
                    if (offset == size) {
                        Digest got = hasher.finish();
                        if (got != digest) throw Error(prefix + "content has digest " + got.str() + ": refused");
                        return;
                    }
                    // The body ended early without a transfer error: resume like a reset.
                } else if (!Transport::retryable(resp)) {
                    if (resp.status == 401 || resp.status == 403 || last) t.fail(what, resp);
                    throw MirrorMiss(t.describe(what, resp));
                }
                failed_response = &resp;
            } else {
                if (t.endpoint().mirror && r.error.kind == http::TransferError::Kind::Connect && offset == start)
                    throw EndpointDown("registry mirror " + t.endpoint().host + ": " + r.error.message);
                if (!Transport::retryable(r.error)) t.fail(what, r.error, 1);
            }
            stalled = offset > start ? 1 : stalled + 1;
            if (stalled >= kMaxStalledAttempts) {
                if (failed_response && failed_response->status != 200 && failed_response->status != 206)
                    throw Error(t.describe(what, *failed_response) + " after " + std::to_string(stalled) + " attempts");
                std::string why = failed_response ? "the body ended early" : r.error.message;
                throw Error(prefix + why + " after " + std::to_string(stalled) + " attempts");
            }
            Transport::backoff(stalled, failed_response);
        }
    });
}

}  // namespace kiln::registry
