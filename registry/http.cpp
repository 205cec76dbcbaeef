#include "registry/http.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "registry/curl_library.hpp"
#include "util/error.hpp"

namespace kiln::registry::http {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
    return std::string(s.substr(b, e - b));
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl().global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl: global initialisation failed");
    });
}

struct CurlUrl {
    CURLU* h = curl().url();
    ~CurlUrl() { curl().url_cleanup(h); }
    std::string get(CURLUPart part, unsigned flags = 0) const {
        char* out = nullptr;
        if (curl().url_get(h, part, &out, flags) != CURLUE_OK || !out) return {};
        std::string s(out);
        curl().free(out);
        return s;
    }
};

// What one transfer's callbacks share.
struct Transfer {
    CURL* easy = nullptr;
    const Request* request = nullptr;
    Response response;
    std::string body_pending;  // the string body not yet sent
    std::size_t body_offset = 0;
    bool too_large = false;
    std::exception_ptr failure;
    int status_known = 0;  // 0: not yet looked at, 1: 2xx into the sink, 2: kept in memory
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
        // A new status line (after 100 Continue or a proxy's CONNECT): forget earlier headers.
        t->response.headers.clear();
        // "HTTP/1.1 404 Not Found\r\n" → "Not Found"
        auto sp = line.find(' ');
        auto sp2 = sp == std::string_view::npos ? sp : line.find(' ', sp + 1);
        t->response.reason = sp2 == std::string_view::npos ? std::string() : trim(line.substr(sp2 + 1));
        return size * count;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * count;
    t->response.headers.emplace_back(lower(std::string(line.substr(0, colon))), trim(line.substr(colon + 1)));
    return size * count;
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t n = size * count;
    if (t->status_known == 0) {
        long code = 0;
        curl().easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
        t->status_known = (code >= 200 && code < 300 && t->request->sink) ? 1 : 2;
        if (t->status_known == 1 && t->request->before_sink) {
            t->response.status = code;
            try {
                t->request->before_sink(t->response);
            } catch (...) {
                t->failure = std::current_exception();
                return 0;
            }
        }
    }
    t->response.body_bytes += n;
    if (t->status_known == 1) {
        try {
            t->request->sink(data, n);
        } catch (...) {
            t->failure = std::current_exception();
            return 0;
        }
        return n;
    }
    if (t->response.body.size() + n > t->request->max_body) {
        t->too_large = true;
        return 0;
    }
    t->response.body.append(data, n);
    return n;
}

std::size_t on_read(char* buf, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t cap = size * count;
    if (t->request->reader) {
        try {
            return t->request->reader(buf, cap);
        } catch (...) {
            t->failure = std::current_exception();
            return CURL_READFUNC_ABORT;
        }
    }
    std::size_t n = std::min(cap, t->body_pending.size() - t->body_offset);
    std::memcpy(buf, t->body_pending.data() + t->body_offset, n);
    t->body_offset += n;
    return n;
}

int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
    if (t->request->reader) {
        if (!t->request->seek) return CURL_SEEKFUNC_CANTSEEK;
        try {
            return t->request->seek(static_cast<std::uint64_t>(offset)) ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
        } catch (...) {
            t->failure = std::current_exception();
            return CURL_SEEKFUNC_FAIL;
        }
    }
    if (static_cast<std::uint64_t>(offset) > t->body_pending.size()) return CURL_SEEKFUNC_CANTSEEK;
    t->body_offset = static_cast<std::size_t>(offset);
    return CURL_SEEKFUNC_OK;
}

TransferError classify(CURLcode code, CURL* easy, const char* errbuf) {
    TransferError e;
    e.message = errbuf[0] ? std::string(errbuf) : std::string(curl().easy_strerror(code));
    while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == '\r')) e.message.pop_back();
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
            e.kind = TransferError::Kind::Connect;
            break;
        case CURLE_OPERATION_TIMEDOUT: {
            curl_off_t connected = 0;
            curl().easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected);
            e.kind = connected == 0 ? TransferError::Kind::Connect : TransferError::Kind::Broken;
            break;
        }
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_ENGINE_INITFAILED:
            e.kind = TransferError::Kind::Tls;
            break;
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
        // A kept connection the server had closed, and a body that cannot be rewound to resend
        // it on a new one: the caller's retry builds the request (and reader) anew.
        case CURLE_SEND_FAIL_REWIND:
            e.kind = TransferError::Kind::Broken;
            break;
        default:
            e.kind = TransferError::Kind::Other;
    }
    return e;
}

}  // namespace

std::string Response::header(const std::string& name) const {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it)
        if (it->first == name) return it->second;
    return {};
}

std::vector<std::string> Response::header_values(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers)
        if (k == name) out.push_back(v);
    return out;
}

struct Client::Pool {
    CURLSH* share = nullptr;
    std::mutex share_locks[CURL_LOCK_DATA_LAST];
    std::mutex free_mutex;
    std::vector<CURL*> free;

    Pool() {
        global_init();
        share = curl().share_init();
        if (!share) throw Error("libcurl: cannot create a share handle");
        curl().share_setopt(share, CURLSHOPT_LOCKFUNC, +[](CURL*, curl_lock_data data, curl_lock_access, void* user) {
            static_cast<Pool*>(user)->share_locks[data].lock();
        });
        curl().share_setopt(share, CURLSHOPT_UNLOCKFUNC, +[](CURL*, curl_lock_data data, void* user) {
            static_cast<Pool*>(user)->share_locks[data].unlock();
        });
        curl().share_setopt(share, CURLSHOPT_USERDATA, this);
        curl().share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl().share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl().share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    }
    ~Pool() {
        for (CURL* e : free) curl().easy_cleanup(e);
        curl().share_cleanup(share);
    }

    CURL* acquire() {
        {
            std::lock_guard lock(free_mutex);
            if (!free.empty()) {
                CURL* e = free.back();
                free.pop_back();
                curl().easy_reset(e);
                return e;
            }
        }
        CURL* e = curl().easy_init();
        if (!e) throw Error("libcurl: cannot create a transfer handle");
        return e;
    }
    void release(CURL* e) {
        std::lock_guard lock(free_mutex);
        free.push_back(e);
    }
};

Client::Client() : pool_(std::make_unique<Pool>()) {}
Client::~Client() = default;

long Client::stall_seconds() {
    if (const char* env = std::getenv("KILN_REGISTRY_STALL_SECONDS")) {
        char* end = nullptr;
        long v = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && v > 0) return v;
    }
    return 30;
}

std::pair<std::optional<Response>, TransferError> Client::perform(const Request& request) {
    CURL* easy = pool_->acquire();
    struct Releaser {
        Pool* pool;
        CURL* easy;
        ~Releaser() { pool->release(easy); }
    } releaser{pool_.get(), easy};

    Transfer t;
    t.easy = easy;
    t.request = &request;
    char errbuf[CURL_ERROR_SIZE] = {0};

    curl().easy_setopt(easy, CURLOPT_SHARE, pool_->share);
    curl().easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl().easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl().easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl().easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl().easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl().easy_setopt(easy, CURLOPT_USERAGENT, "kiln/0.1");
    curl().easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 15L);
    curl().easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl().easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, stall_seconds());
    curl().easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl().easy_setopt(easy, CURLOPT_HEADERDATA, &t);
    curl().easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl().easy_setopt(easy, CURLOPT_WRITEDATA, &t);
    // Go's proxy rules, which Docker follows: loopback is never proxied.
    if (is_loopback_host(url_authority(request.url))) curl().easy_setopt(easy, CURLOPT_NOPROXY, "*");

    curl().easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, request.tls.verify ? 1L : 0L);
    curl().easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, request.tls.verify ? 2L : 0L);
    curl_blob ca_blob{};
    if (!request.tls.ca_pem.empty()) {
        ca_blob.data = const_cast<char*>(request.tls.ca_pem.data());
        ca_blob.len = request.tls.ca_pem.size();
        ca_blob.flags = CURL_BLOB_NOCOPY;
        curl().easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca_blob);
    }
    if (!request.tls.client_cert.empty()) curl().easy_setopt(easy, CURLOPT_SSLCERT, request.tls.client_cert.c_str());
    if (!request.tls.client_key.empty()) curl().easy_setopt(easy, CURLOPT_SSLKEY, request.tls.client_key.c_str());

    bool has_body = request.reader || !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                    request.method == "PATCH";
    if (request.method == "HEAD") {
        curl().easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        t.body_pending = request.body;
        curl_off_t size = request.reader ? static_cast<curl_off_t>(request.body_size)
                                         : static_cast<curl_off_t>(request.body.size());
        curl().easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl().easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, size);
        curl().easy_setopt(easy, CURLOPT_READFUNCTION, on_read);
        curl().easy_setopt(easy, CURLOPT_READDATA, &t);
        curl().easy_setopt(easy, CURLOPT_SEEKFUNCTION, on_seek);
        curl().easy_setopt(easy, CURLOPT_SEEKDATA, &t);
        curl().easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    } else if (request.method != "GET") {
        curl().easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    curl_slist* headers = nullptr;
    struct SlistFree {
        curl_slist*& list;
        ~SlistFree() { curl().slist_free_all(list); }
    } slist_free{headers};
    for (const auto& h : request.headers) headers = curl().slist_append(headers, h.c_str());
    // No "Expect: 100-continue" round trip: registries answer the body directly.
    if (has_body) headers = curl().slist_append(headers, "Expect:");
    curl().easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

    CURLcode code = curl().easy_perform(easy);
    curl().easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    curl().easy_setopt(easy, CURLOPT_SHARE, nullptr);
    if (t.failure) std::rethrow_exception(t.failure);
    if (t.too_large) {
        TransferError e;
        e.kind = TransferError::Kind::TooLarge;
        e.message = "response body larger than " + std::to_string(request.max_body) + " bytes";
        return {std::nullopt, e};
    }
    if (code != CURLE_OK) return {std::nullopt, classify(code, easy, errbuf)};
    curl().easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t.response.status);
    return {std::move(t.response), {}};
}

std::string url_authority(const std::string& url) {
    global_init();
    CurlUrl u;
    if (curl().url_set(u.h, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
    std::string host = lower(u.get(CURLUPART_HOST));
    std::string port = u.get(CURLUPART_PORT);
    return port.empty() ? host : host + ":" + port;
}

std::string resolve_url(const std::string& base, const std::string& location) {
    global_init();
    CurlUrl u;
    if (curl().url_set(u.h, CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
        curl().url_set(u.h, CURLUPART_URL, location.c_str(), CURLU_ALLOW_SPACE) != CURLUE_OK)
        throw Error("registry sent an unusable Location: " + location.substr(0, 200));
    return u.get(CURLUPART_URL);
}

std::string query_escape(const std::string& value) {
    std::string out;
    static const char* hex = "0123456789ABCDEF";
    for (unsigned char c : value) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

bool is_loopback_host(const std::string& host_port) {
    std::string host = lower(host_port);
    if (host.starts_with("[")) {
        auto close = host.find(']');
        host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        host = host.substr(0, host.find(':'));
    }
    if (host == "localhost" || host.ends_with(".localhost")) return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

}  // namespace kiln::registry::http
