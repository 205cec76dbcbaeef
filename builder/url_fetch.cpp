#include "builder/url_fetch.hpp"

#include <time.h>

#include <nlohmann/json.hpp>

#include "image/store.hpp"
#include "registry/http.hpp"
#include "util/error.hpp"

namespace kiln::builder {

namespace {

namespace http = registry::http;

constexpr int kMaxRedirects = 10;  // Go's http.Client, which BuildKit downloads with

// The build cache row that remembers a URL's last response: its key is derived from the
// URL so no step key can collide with it, and its value starts with the body's digest,
// which keeps the blob alive exactly as long as the row (cache prune removes both).
std::string record_key(const std::string& url) { return sha256_of("kiln http source\n" + url).str(); }

struct Remembered {
    Digest digest;
    std::uint64_t size = 0;
    std::string etag, last_modified;
};

std::optional<Remembered> remembered(image::Store& store, const std::string& url) {
    auto entry = store.db().cache_entry(record_key(url));
    if (!entry || entry->kind != "http") return std::nullopt;
    auto space = entry->result.find(' ');
    if (space == std::string::npos || !Digest::valid(entry->result.substr(0, space))) return std::nullopt;
    try {
        auto meta = nlohmann::json::parse(entry->result.substr(space + 1));
        return Remembered{Digest::parse(entry->result.substr(0, space)), meta.value("size", std::uint64_t{0}),
                          meta.value("etag", ""), meta.value("last_modified", "")};
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;  // a row some other version wrote: download again
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

void check_checksum(const std::string& url, const Digest& got, const FetchOptions& options) {
    if (options.checksum && *options.checksum != got)
        throw Error("checksum mismatch for " + url + ": --checksum is " + options.checksum->str() +
                    " but the content is " + got.str());
}

}  // namespace

bool is_http_url(const std::string& source) {
    return source.starts_with("http://") || source.starts_with("https://");
}

std::string url_file_name(const std::string& url) {
    auto scheme = url.find("://");
    std::string_view rest(url);
    rest.remove_prefix(scheme == std::string::npos ? 0 : scheme + 3);
    rest = rest.substr(0, rest.find_first_of("?#"));
    auto slash = rest.find('/');
    std::string path = slash == std::string_view::npos ? "" : percent_decode(rest.substr(slash));
    while (!path.empty() && path.back() == '/') path.pop_back();
    std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    if (base.empty() || base == "." || base == ".." || base.find('\0') != std::string::npos) return "__unnamed__";
    return base;
}

std::optional<std::int64_t> parse_http_date(const std::string& text) {
    // RFC 9110's preferred form first, then the two obsolete ones it still requires.
    for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
        struct tm tm {};
        const char* end = ::strptime(text.c_str(), format, &tm);
        if (end && *end == '\0') return static_cast<std::int64_t>(::timegm(&tm));
    }
    return std::nullopt;
}

std::string FetchedUrl::body_path(image::Store& store) const {
    if (staged) return "/proc/self/fd/" + std::to_string(staged->fd());
    return store.content().path(digest);
}

FetchedUrl fetch_url(image::Store& store, const std::string& url, const FetchOptions& options) {
    auto known = options.revalidate ? remembered(store, url) : std::nullopt;
    if (known && !store.content().has(known->digest)) known.reset();  // pruned: ask afresh
    http::Client client;
    std::string current = url;
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
        auto writer = std::make_unique<image::ContentStore::Writer>(store.content());
        http::Request request;
        request.url = current;
        if (known && !known->etag.empty()) request.headers.push_back("If-None-Match: " + known->etag);
        request.sink = [&](const char* data, std::size_t size) { writer->write(data, size); };
        auto [response, error] = client.perform(request);
        if (!response) throw Error("cannot fetch " + current + ": " + error.message);
        if (is_redirect(response->status) && !response->header("location").empty()) {
            current = http::resolve_url(current, response->header("location"));
            if (!is_http_url(current)) throw Error(url + " redirects to " + current + ", which is not an http(s) URL");
            continue;
        }
        FetchedUrl fetched;
        fetched.url = url;
        if (response->status == 304 && known) {
            fetched.digest = known->digest;
            fetched.size = known->size;
            fetched.etag = known->etag;
            fetched.last_modified = known->last_modified;
        } else if (response->status >= 200 && response->status < 300) {
            fetched.digest = writer->finish();
            fetched.size = writer->size();
            fetched.etag = response->header("etag");
            fetched.last_modified = response->header("last-modified");
            fetched.staged = std::move(writer);
        } else {
            std::string reason = response->reason.empty() ? "" : " " + response->reason;
            throw Error("cannot fetch " + current + ": the server answered " + std::to_string(response->status) + reason);
        }
        check_checksum(url, fetched.digest, options);
        fetched.mtime = parse_http_date(fetched.last_modified);
        return fetched;
    }
    throw Error("cannot fetch " + url + ": more than " + std::to_string(kMaxRedirects) + " redirects");
}

void keep_fetched(image::Store& store, FetchedUrl& fetched) {
    if (fetched.staged) {
        fetched.staged->commit(fetched.digest);
        fetched.staged.reset();
    }
    nlohmann::json meta = {{"size", fetched.size}, {"etag", fetched.etag}, {"last_modified", fetched.last_modified}};
    store.db().cache_put(record_key(fetched.url), fetched.digest.str() + " " + meta.dump(), "http", fetched.url);
}

}  // namespace kiln::builder
