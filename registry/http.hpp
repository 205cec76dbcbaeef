#pragma once
// One HTTP exchange over libcurl, nothing more: no retries, no auth, no redirects (the layers
// above decide those). Bodies read into memory are bounded; a body may instead stream into a
// sink; a request body may be a string or a reader.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::registry::http {

// Body limits of what a registry may send back to be held in memory.
inline constexpr std::size_t kManifestLimit = 4 << 20;
inline constexpr std::size_t kSmallBodyLimit = 1 << 20;

struct TlsOptions {
    bool verify = true;
    std::string ca_pem;       // extra trusted CAs (concatenated PEM), added to the system's
    std::string client_cert;  // PEM file paths for a client certificate
    std::string client_key;
};

// Reads up to cap bytes of the request body; returns 0 only at its end.
using BodyReader = std::function<std::size_t(void* buf, std::size_t cap)>;
// Moves the reader to this offset of the body; false if it cannot. libcurl rewinds a body
// when a kept connection turns out to be dead after the request was sent on it.
using BodySeeker = std::function<bool(std::uint64_t offset)>;
// Receives the body of a 2xx response as it arrives.
using BodySink = std::function<void(const char* data, std::size_t size)>;

struct Response;

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    // The request body: `body`, or `reader` for `body_size` bytes.
    std::string body;
    BodyReader reader;
    BodySeeker seek;  // for reader: without it such a resend fails the transfer (Broken)
    std::uint64_t body_size = 0;
    // 2xx bodies go to sink when set; every other body (and 2xx without a sink) is kept in
    // Response::body up to max_body bytes: more is an error.
    BodySink sink;
    // Called once, before the first byte goes to sink, with the status and headers; it may
    // throw to refuse the body (a 206 for the wrong range, say).
    std::function<void(const Response&)> before_sink;
    std::size_t max_body = kSmallBodyLimit;
    TlsOptions tls;
};

struct Response {
    long status = 0;
    std::string reason;  // the status line's reason phrase ("Not Found"), may be empty
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
    std::string body;
    std::uint64_t body_bytes = 0;  // bytes received (sunk or kept)

    // The last value of a header (name in lower case), or "" when absent.
    std::string header(const std::string& name) const;
    std::vector<std::string> header_values(const std::string& name) const;
};

// A transfer that did not give a complete HTTP response.
struct TransferError {
    enum class Kind {
        Connect,   // DNS, refused, unreachable: nothing was sent
        Tls,       // TLS handshake or certificate
        Broken,    // reset, timeout, stall, truncated body: may succeed on retry
        TooLarge,  // a body over its limit
        Other,
    };
    Kind kind = Kind::Other;
    std::string message;  // libcurl's words, without any header or URL query
};

// Reusable libcurl handles: kept connections, DNS cache and TLS sessions across the
// transfers of one command. Thread-safe.
class Client {
public:
    Client();
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Performs one exchange. Returns the response, or the transfer error. A sink that throws
    // aborts the transfer and its exception is rethrown here.
    std::pair<std::optional<Response>, TransferError> perform(const Request& request);

    // Seconds without a byte before a transfer counts as stalled (KILN_REGISTRY_STALL_SECONDS,
    // default 30).
    static long stall_seconds();

private:
    struct Pool;
    std::unique_ptr<Pool> pool_;
};

// "https://host:port/path?q" → "host:port" (the authority, lower-cased).
std::string url_authority(const std::string& url);
// Resolves a Location header against the URL it came from (absolute, "/path" or relative).
std::string resolve_url(const std::string& base, const std::string& location);
// Percent-encodes a query parameter value.
std::string query_escape(const std::string& value);
// True for localhost, 127.0.0.0/8 and ::1 (with or without a port, IPv6 in brackets).
bool is_loopback_host(const std::string& host_port);

}  // namespace kiln::registry::http
