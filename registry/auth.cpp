#include "registry/auth.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "registry/base64.hpp"
#include "util/error.hpp"

namespace kiln::registry::auth {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool is_token_char(char c) {
    // RFC 7230 tchar
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over one header value.
struct Scanner {
    std::string_view s;
    std::size_t i = 0;

    bool done() const { return i >= s.size(); }
    void skip_space() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    }
    std::string token() {
        std::size_t b = i;
        while (i < s.size() && is_token_char(s[i])) ++i;
        return std::string(s.substr(b, i - b));
    }
    // A quoted-string after its opening quote, with \-escapes; false when unterminated.
    bool quoted(std::string& out) {
        ++i;
        while (i < s.size()) {
            char c = s[i++];
            if (c == '"') return true;
            if (c == '\\' && i < s.size()) c = s[i++];
            out += c;
        }
        return false;
    }
};

}  // namespace

std::vector<Challenge> parse_challenges(const std::vector<std::string>& header_values) {
    std::vector<Challenge> out;
    for (const auto& value : header_values) {
        Scanner sc{value};
        std::optional<Challenge> current;
        while (true) {
            sc.skip_space();
            while (!sc.done() && sc.s[sc.i] == ',') {
                ++sc.i;
                sc.skip_space();
            }
            if (sc.done()) break;
            std::size_t start = sc.i;
            std::string word = sc.token();
            if (word.empty()) {
                // Not a token: skip to the next comma.
                while (!sc.done() && sc.s[sc.i] != ',') ++sc.i;
                continue;
            }
            sc.skip_space();
            if (!sc.done() && sc.s[sc.i] == '=') {
                // key=value of the current challenge (or token68 padding "abc==": ignored).
                ++sc.i;
                sc.skip_space();
                std::string v;
                bool ok = true;
                if (!sc.done() && sc.s[sc.i] == '"') {
                    ok = sc.quoted(v);
                } else {
                    std::size_t b = sc.i;
                    while (!sc.done() && sc.s[sc.i] != ',' && sc.s[sc.i] != ' ' && sc.s[sc.i] != '\t') ++sc.i;
                    v = std::string(sc.s.substr(b, sc.i - b));
                }
                if (ok && current) current->params[lower(word)] = v;
                continue;
            }
            (void)start;
            // A new challenge: "Scheme" followed by params (or a token68, which we skip).
            if (current) out.push_back(std::move(*current));
            current = Challenge{lower(word), {}};
        }
        if (current) out.push_back(std::move(*current));
    }
    return out;
}

std::string repository_scope(const std::string& path, bool push) {
    return "repository:" + path + (push ? ":pull,push" : ":pull");
}

std::vector<std::string> split_scopes(const std::string& text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        std::size_t b = i;
        while (i < text.size() && text[i] != ' ') ++i;
        if (i > b) out.push_back(text.substr(b, i - b));
    }
    return out;
}

std::vector<std::string> merge_scopes(const std::vector<std::string>& scopes) {
    // resource ("repository:localhost:5000/app") → actions. The resource is everything
    // before the last ':', so a host:port inside the name stays whole.
    std::map<std::string, std::set<std::string>> by_resource;
    std::vector<std::string> odd;  // not type:name:actions: kept as they are
    for (const auto& scope : scopes) {
        auto first = scope.find(':');
        auto last = scope.rfind(':');
        if (first == std::string::npos || first == last) {
            odd.push_back(scope);
            continue;
        }
        auto& actions = by_resource[scope.substr(0, last)];
        std::string list = scope.substr(last + 1);
        std::size_t i = 0;
        while (i <= list.size()) {
            auto comma = list.find(',', i);
            if (comma == std::string::npos) comma = list.size();
            if (comma > i) actions.insert(list.substr(i, comma - i));
            i = comma + 1;
        }
    }
    std::vector<std::string> out;
    for (const auto& [resource, actions] : by_resource) {
        std::string joined;
        // "*" covers everything; otherwise pull before push as Docker writes them.
        std::vector<std::string> ordered(actions.begin(), actions.end());
        std::sort(ordered.begin(), ordered.end(), [](const std::string& a, const std::string& b) {
            auto rank = [](const std::string& x) { return x == "pull" ? 0 : x == "push" ? 1 : 2; };
            return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
        });
        for (const auto& a : ordered) joined += (joined.empty() ? "" : ",") + a;
        out.push_back(resource + ":" + joined);
    }
    std::sort(odd.begin(), odd.end());
    odd.erase(std::unique(odd.begin(), odd.end()), odd.end());
    out.insert(out.end(), odd.begin(), odd.end());
    return out;
}

std::string basic_authorization(const Credential& credential) {
    return "Basic " + base64_encode(credential.username + ":" + credential.secret);
}

Token parse_token_response(const std::string& body, const std::string& registry) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (!doc.is_object()) throw Error("registry " + registry + ": token server answered something that is not JSON");
    Token t;
    for (const char* key : {"token", "access_token"}) {
        auto it = doc.find(key);
        if (it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
            t.value = it->get<std::string>();
            break;
        }
    }
    if (t.value.empty()) throw Error("registry " + registry + ": token server answered without a token");
    long expires_in = 60;
    if (auto it = doc.find("expires_in"); it != doc.end() && it->is_number_integer() && it->get<long>() > 0)
        expires_in = it->get<long>();
    // Docker's rule: tokens live at least 60 s; expire a little early so a token is not
    // used in the very second it dies.
    expires_in = std::max(expires_in, 60L);
    t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(expires_in - 5);
    if (auto it = doc.find("refresh_token"); it != doc.end() && it->is_string()) t.refresh_token = *it;
    return t;
}

namespace {

std::string short_reason(const http::Response& r) {
    std::string text = std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
    // Token servers often say why in a small JSON body ({"details": "..."}, {"errors": [...]}).
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    std::string detail;
    if (doc.is_object()) {
        if (auto d = doc.find("details"); d != doc.end() && d->is_string()) detail = *d;
        if (auto e = doc.find("errors"); detail.empty() && e != doc.end() && e->is_array() && !e->empty() &&
                                         (*e)[0].is_object() && (*e)[0].value("message", nlohmann::json()).is_string())
            detail = (*e)[0]["message"].get<std::string>();
    }
    if (!detail.empty()) text += ": " + detail.substr(0, 200);
    return text;
}

}  // namespace

Token fetch_token(http::Client& client, const TokenRequest& request) {
    std::string realm = request.challenge.param("realm");
    if (!realm.starts_with("https://") && !realm.starts_with("http://"))
        throw Error("registry " + request.registry + ": bearer challenge without a usable realm");
    std::string service = request.challenge.param("service");
    std::string realm_host = http::url_authority(realm);
    std::string what = "registry " + request.registry + ": token request to " + realm_host;

    auto send = [&](http::Request req) {
        req.max_body = http::kSmallBodyLimit;
        // The registry's own certs.d settings apply when the realm is on the same host.
        if (realm_host == request.registry) req.tls = request.tls;
        auto [response, error] = client.perform(req);
        if (!response) throw Error(what + ": " + error.message);
        return std::move(*response);
    };

    const auto& cred = request.credential;
    if (cred && cred->identity_token) {
        std::string form = "grant_type=refresh_token&client_id=kiln&access_type=offline&refresh_token=" +
                           http::query_escape(cred->secret);
        if (!service.empty()) form += "&service=" + http::query_escape(service);
        std::string joined;
        for (const auto& s : request.scopes) joined += (joined.empty() ? "" : " ") + s;
        if (!joined.empty()) form += "&scope=" + http::query_escape(joined);
        http::Request post;
        post.method = "POST";
        post.url = realm;
        post.body = form;
        post.headers.push_back("Content-Type: application/x-www-form-urlencoded");
        http::Response r = send(post);
        if (r.status == 200) return parse_token_response(r.body, request.registry);
        // Realms that only know the GET form answer 404 (or 405) to a POST.
        if (r.status != 404 && r.status != 405) throw Error(what + ": " + short_reason(r));
    }

    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    bool first = true;
    auto add = [&](const std::string& key, const std::string& value) {
        url += (first ? "" : "&") + key + "=" + http::query_escape(value);
        first = false;
    };
    if (!service.empty()) add("service", service);
    for (const auto& s : request.scopes) add("scope", s);
    if (request.offline) {
        add("offline_token", "true");
        add("client_id", "kiln");
    }
    http::Request get;
    get.url = url;
    if (cred) get.headers.push_back("Authorization: " + basic_authorization(*cred));
    http::Response r = send(get);
    if (r.status != 200) throw Error(what + ": " + short_reason(r));
    return parse_token_response(r.body, request.registry);
}

}  // namespace kiln::registry::auth
