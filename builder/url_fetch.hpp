#pragma once
// What `ADD http(s)://…` downloads, as BuildKit's HTTP source does it: the body streams into
// the content store, named by its digest, with the response's ETag and Last-Modified
// remembered per URL in the build cache. A rebuild asks again with If-None-Match; a 304
// (or the same bytes once more) gives the same digest, so the step's cache key, which is
// built from the digest and never from the URL alone, stays the same.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "image/content_store.hpp"
#include "util/digest.hpp"

namespace kiln::image {
class Store;
}

namespace kiln::builder {

// True for the URLs ADD downloads (http:// and https://).
bool is_http_url(const std::string& source);

// The file name ADD gives a download: the last element of the URL's path, percent-decoded
// (query and fragment ignored), or "__unnamed__" where the path has none, as BuildKit names it.
std::string url_file_name(const std::string& url);

// An HTTP-date (RFC 1123, RFC 850 or asctime form) as unix seconds; nullopt if malformed.
std::optional<std::int64_t> parse_http_date(const std::string& text);

struct FetchedUrl {
    std::string url;
    Digest digest;                       // of the body
    std::uint64_t size = 0;
    std::optional<std::int64_t> mtime;   // Last-Modified
    std::string etag;
    std::string last_modified;           // the header as sent
    // The body when it was downloaded by this build: published by keep_fetched only, so a
    // build that fails leaves nothing of it in the store.
    std::unique_ptr<image::ContentStore::Writer> staged;

    // A path that reads the body (the staged file, or the stored blob).
    std::string body_path(image::Store& store) const;
};

struct FetchOptions {
    std::optional<Digest> checksum;  // --checksum: the body must have this digest
    bool revalidate = true;          // false (--no-cache): download again unconditionally
};

// Downloads url (following up to 10 redirects between http and https URLs), or confirms
// with a conditional request that the copy the store holds is current. Throws kiln::Error
// with one line for a refused connection, a status other than 2xx/304, or a checksum
// mismatch; nothing is stored then.
FetchedUrl fetch_url(image::Store& store, const std::string& url, const FetchOptions& options);

// Publishes what fetch_url downloaded (the blob, and the URL's ETag and Last-Modified for
// the next conditional request; `kiln cache ls` lists it under the URL). Called once the
// step that used it has succeeded.
void keep_fetched(image::Store& store, FetchedUrl& fetched);

}  // namespace kiln::builder
