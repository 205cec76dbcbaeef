#include "registry/transport.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

namespace kiln::registry {

namespace {

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Registry text shown to a user: one line, printable, bounded.
std::string printable(std::string_view text, std::size_t limit = 300) {
    std::string out;
    for (char c : text) {
        if (out.size() >= limit) {
            out += "…";
            break;
        }
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    }
    return out;
}

}  // namespace

std::string registry_error_text(const std::string& body) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (!doc.is_object()) return {};
    auto errors = doc.find("errors");
    if (errors == doc.end() || !errors->is_array() || errors->empty() || !(*errors)[0].is_object()) return {};
    const auto& e = (*errors)[0];
    std::string code = e.value("code", nlohmann::json()).is_string() ? e["code"].get<std::string>() : "";
    std::string message = e.value("message", nlohmann::json()).is_string() ? e["message"].get<std::string>() : "";
    // As the docker CLI prints error codes: "MANIFEST_UNKNOWN" → "manifest unknown".
    std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return c == '_' ? ' ' : std::tolower(c); });
    if (code.empty()) return printable(message);
    return printable(message.empty() ? code : code + ": " + message);
}

RequestFactory bare_request(std::string method, const std::string& url) {
    return [method = std::move(method), &url] {
        http::Request q;
        q.method = method;
        q.url = url;
        return q;
    };
}

Transport::Transport(Session::State& state, Endpoint endpoint, std::vector<std::string> scopes)
    : state_(state), endpoint_(std::move(endpoint)), scopes_(auth::merge_scopes(scopes)) {}

std::string Transport::base() const {
    if (endpoint_.http_fallback) {
        std::lock_guard lock(state_.mutex);
        auto it = state_.chosen_base.find(endpoint_.host);
        if (it != state_.chosen_base.end()) return it->second;
    }
    return endpoint_.base;
}

std::string Transport::url(const std::string& api_path) const { return base() + api_path; }

void Transport::add_scopes(const std::vector<std::string>& scopes) {
    std::lock_guard lock(scopes_mutex_);
    std::vector<std::string> all = scopes_;
    all.insert(all.end(), scopes.begin(), scopes.end());
    scopes_ = auth::merge_scopes(all);
}

std::string Transport::token_key() const {
    std::lock_guard lock(scopes_mutex_);
    std::string key = endpoint_.host;
    for (const auto& s : scopes_) key += " " + s;
    return key;
}

std::optional<Credential> Transport::credential() {
    if (override_) return override_;
    return state_.credential_for(endpoint_.host);
}

std::optional<std::string> Transport::authorization(bool refresh) {
    std::optional<auth::Challenge> challenge;
    {
        std::lock_guard lock(state_.mutex);
        if (auto it = state_.challenges.find(endpoint_.host); it != state_.challenges.end()) challenge = it->second;
    }
    if (!challenge) return std::nullopt;
    if (challenge->scheme == "basic") {
        auto credential = this->credential();
        if (!credential) return std::nullopt;
        return auth::basic_authorization(*credential);
    }
    if (challenge->scheme != "bearer") return std::nullopt;
    std::string key = token_key();
    if (!refresh) {
        std::lock_guard lock(state_.mutex);
        auto it = state_.tokens.find(key);
        if (it != state_.tokens.end() && it->second.expires > std::chrono::steady_clock::now())
            return "Bearer " + it->second.value;
    }
    auth::TokenRequest request;
    request.registry = endpoint_.host;
    request.challenge = *challenge;
    {
        std::lock_guard lock(scopes_mutex_);
        request.scopes = scopes_;
    }
    request.credential = credential();
    request.tls = endpoint_.tls;
    auth::Token token = auth::fetch_token(state_.client, request);
    std::lock_guard lock(state_.mutex);
    state_.tokens[key] = token;
    return "Bearer " + token.value;
}

void Transport::learn_challenge(const http::Response& r) {
    auto challenges = auth::parse_challenges(r.header_values("www-authenticate"));
    // Bearer is preferred where a registry offers both, as Docker does.
    const auth::Challenge* chosen = nullptr;
    for (const auto& c : challenges)
        if (c.scheme == "bearer" && !c.param("realm").empty()) chosen = &c;
    if (!chosen)
        for (const auto& c : challenges)
            if (c.scheme == "basic") chosen = &c;
    if (!chosen) return;
    std::lock_guard lock(state_.mutex);
    state_.challenges[endpoint_.host] = *chosen;
}

void Transport::show_warnings(const http::Response& r) {
    for (const auto& value : r.header_values("warning")) {
        // Warning: 299 - "text"
        if (!value.starts_with("299 ")) continue;
        auto open = value.find('"');
        auto close = value.rfind('"');
        if (open == std::string::npos || close <= open) continue;
        state_.warn_once(endpoint_.host, printable(value.substr(open + 1, close - open - 1)));
    }
}

ExchangeResult Transport::exchange(const RequestFactory& make, int max_redirects) {
    bool refresh = false;
    bool answered_401 = false;
    for (;;) {
        http::Request request = make();
        std::string chosen = base();
        if (chosen != endpoint_.base && request.url.starts_with(endpoint_.base))
            request.url = chosen + request.url.substr(endpoint_.base.size());
        request.tls = endpoint_.tls;
        std::optional<std::string> authz = authorization(refresh);
        if (authz) request.headers.push_back("Authorization: " + *authz);

        auto [response, error] = state_.client.perform(request);
        if (!response) {
            bool untried_fallback = endpoint_.http_fallback && chosen.starts_with("https://");
            if (untried_fallback && !endpoint_.has_ca &&
                (error.kind == http::TransferError::Kind::Connect || error.kind == http::TransferError::Kind::Tls)) {
                std::lock_guard lock(state_.mutex);
                state_.chosen_base[endpoint_.host] = "http://" + endpoint_.base.substr(std::string("https://").size());
                continue;
            }
            return {std::nullopt, error};
        }
        if (endpoint_.http_fallback) {
            std::lock_guard lock(state_.mutex);
            state_.chosen_base.emplace(endpoint_.host, chosen);
        }
        show_warnings(*response);

        if (response->status == 401 && !answered_401) {
            answered_401 = true;
            learn_challenge(*response);
            refresh = true;
            bool have_challenge;
            {
                std::lock_guard lock(state_.mutex);
                have_challenge = state_.challenges.count(endpoint_.host) != 0;
            }
            if (have_challenge) continue;
        }

        std::string current = request.url;
        for (int hop = 0; hop < max_redirects && is_redirect(response->status); ++hop) {
            std::string location = response->header("location");
            if (location.empty()) break;
            current = http::resolve_url(current, location);
            http::Request next = make();
            next.url = current;
            // Credentials and client certificates stay with the registry's own host.
            if (http::url_authority(current) == endpoint_.host) {
                next.tls = endpoint_.tls;
                if (authz) next.headers.push_back("Authorization: " + *authz);
            }
            auto [r, e] = state_.client.perform(next);
            if (!r) return {std::nullopt, e};
            response = std::move(r);
        }
        return {std::move(response), {}};
    }
}

bool Transport::retryable(const http::Response& r) {
    return r.status == 429 || (r.status >= 500 && r.status != 501 && r.status != 505);
}

bool Transport::retryable(const http::TransferError& e) {
    return e.kind == http::TransferError::Kind::Connect || e.kind == http::TransferError::Kind::Broken;
}

void Transport::backoff(int attempt, const http::Response* response) {
    auto delay = std::chrono::milliseconds(200) * (1 << std::min(attempt - 1, 5));
    delay = std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(5));
    if (response) {
        std::string after = response->header("retry-after");
        if (!after.empty() && after.size() < 6 && std::all_of(after.begin(), after.end(), ::isdigit))
            delay = std::chrono::seconds(std::min(std::stoi(after), 30));
    }
    std::this_thread::sleep_for(delay);
}

int Transport::attempt_limit(const ExchangeResult& r, int unreachable) {
    return !r.response && r.error.kind == http::TransferError::Kind::Connect ? unreachable : kAttempts;
}

http::Response Transport::send(const RequestFactory& make, const std::string& what, int max_redirects,
                               int unreachable_attempts) {
    for (int attempt = 1;; ++attempt) {
        ExchangeResult r = exchange(make, max_redirects);
        if (r.response) {
            if (!retryable(*r.response)) return std::move(*r.response);
            if (attempt >= kAttempts)
                throw Error(describe(what, *r.response) + " after " + std::to_string(attempt) + " attempts");
            backoff(attempt, &*r.response);
            continue;
        }
        if (endpoint_.mirror && r.error.kind == http::TransferError::Kind::Connect)
            throw EndpointDown("registry mirror " + endpoint_.host + ": " + r.error.message);
        if (!retryable(r.error) || attempt >= attempt_limit(r, unreachable_attempts)) fail(what, r.error, attempt);
        backoff(attempt, nullptr);
    }
}

std::string Transport::describe(const std::string& what, const http::Response& r) const {
    std::string text = registry_error_text(r.body);
    if (is_redirect(r.status)) {
        // Only blob downloads follow redirects (see exchange()); anything else stops here.
        std::string target = http::url_authority(http::resolve_url(url(""), r.header("location")));
        text = "redirected (" + std::to_string(r.status) + ") to " + printable(target.empty() ? "?" : target, 100) +
               ", which kiln follows for blob downloads only";
    }
    if (text.empty()) text = std::to_string(r.status) + (r.reason.empty() ? "" : " " + printable(r.reason, 80));
    return "registry " + endpoint_.host + ": " + what + ": " + text;
}

void Transport::fail(const std::string& what, const http::Response& r) const { throw Error(describe(what, r)); }

void Transport::fail(const std::string& what, const http::TransferError& e, int attempts) const {
    std::string text = "registry " + endpoint_.host + ": " + what + ": " + printable(e.message);
    if (attempts > 1) text += " after " + std::to_string(attempts) + " attempts";
    throw Error(text);
}

}  // namespace kiln::registry
