#include "image/reference.hpp"

#include "util/error.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool has_upper(std::string_view s) {
    for (char c : s)
        if (c >= 'A' && c <= 'Z') return true;
    return false;
}

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
    std::string msg = "invalid reference format \"" + std::string(text.substr(0, 200)) + "\": " + why;
    for (char& c : msg)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    throw Error(msg);
}

// path-component := [a-z0-9]+ ((\. | _ | __ | -+) [a-z0-9]+)*
bool valid_path_component(std::string_view s) {
    std::size_t i = 0;
    auto run = [&] {
        std::size_t start = i;
        while (i < s.size() && is_lower_alnum(s[i])) ++i;
        return i > start;
    };
    if (!run()) return false;
    while (i < s.size()) {
        if (s[i] == '.') {
            ++i;
        } else if (s[i] == '_') {
            ++i;
            if (i < s.size() && s[i] == '_') ++i;
        } else if (s[i] == '-') {
            while (i < s.size() && s[i] == '-') ++i;
        } else {
            return false;
        }
        if (!run()) return false;
    }
    return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view s) {
    if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
    for (char c : s)
        if (!is_alnum(c) && c != '-') return false;
    return true;
}

// host [":" port], host := domain-name | "[" IPv6 "]"
bool valid_domain(std::string_view d) {
    std::string_view host = d;
    if (!d.empty() && d.front() == '[') {
        auto close = d.find(']');
        if (close == std::string_view::npos || close < 3) return false;
        for (char c : d.substr(1, close - 1))
            if (!is_hex(c) && !(c >= 'A' && c <= 'F') && c != ':' && c != '.') return false;
        host = {};
        d.remove_prefix(close + 1);
        if (d.empty()) return true;
        if (d.front() != ':') return false;
    } else {
        auto colon = d.find(':');
        host = d.substr(0, colon);
        d = colon == std::string_view::npos ? std::string_view{} : d.substr(colon);
        std::size_t start = 0;
        for (;;) {
            auto dot = host.find('.', start);
            if (!valid_domain_component(host.substr(start, dot - start))) return false;
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
        if (d.empty()) return true;
    }
    std::string_view port = d.substr(1);  // after ':'
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
        if (c < '0' || c > '9') return false;
    return true;
}

// tag := [\w][\w.-]{0,127}
bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > kMaxTagLength || !is_word(t.front())) return false;
    for (char c : t)
        if (!is_word(c) && c != '.' && c != '-') return false;
    return true;
}

bool all_hex(std::string_view s) {
    for (char c : s)
        if (!is_hex(c)) return false;
    return true;
}

}  // namespace

std::string Reference::repository() const { return domain + "/" + path; }

std::string Reference::str() const {
    std::string out = repository();
    if (!tag.empty()) out += ":" + tag;
    if (digest) out += "@" + digest->str();
    return out;
}

std::string Reference::familiar_repository() const {
    if (domain != kDefaultDomain) return repository();
    constexpr std::string_view library = "library/";
    if (path.compare(0, library.size(), library) == 0 && path.find('/', library.size()) == std::string::npos)
        return path.substr(library.size());
    return path;
}

std::string Reference::familiar() const {
    std::string out = familiar_repository();
    if (!tag.empty()) out += ":" + tag;
    if (digest) out += "@" + digest->str();
    return out;
}

Reference parse_reference(std::string_view text) {
    if (text.empty()) invalid(text, "empty reference");
    if (text.size() > 1024) invalid(text, "reference is too long");
    Reference ref;
    std::string_view name = text;

    if (auto at = name.find('@'); at != std::string_view::npos) {
        std::string_view dig = name.substr(at + 1);
        name = name.substr(0, at);
        auto colon = dig.find(':');
        if (colon == std::string_view::npos || colon == 0) invalid(text, "digest must look like sha256:<hex>");
        if (dig.substr(0, colon) != "sha256")
            invalid(text, "unsupported digest algorithm \"" + std::string(dig.substr(0, std::min<std::size_t>(colon, 32))) +
                              "\" (only sha256)");
        if (!Digest::valid(dig)) invalid(text, "digest must be sha256: followed by 64 lowercase hex digits");
        ref.digest = Digest::parse(dig);
    }

    auto slash = name.rfind('/');
    auto colon = name.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        std::string_view tag = name.substr(colon + 1);
        if (!valid_tag(tag))
            invalid(text, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
        ref.tag = std::string(tag);
        name = name.substr(0, colon);
    }
    if (name.empty()) invalid(text, "repository name is empty");

    auto first = name.find('/');
    std::string_view head = name.substr(0, first);
    const bool has_domain = first != std::string_view::npos &&
                            (head.find_first_of(".:") != std::string_view::npos || head == "localhost" ||
                             has_upper(head));
    if (has_domain) {
        if (!valid_domain(head)) invalid(text, "invalid registry host \"" + std::string(head) + "\"");
        ref.domain = std::string(head);
        ref.path = std::string(name.substr(first + 1));
        if (ref.domain == "index.docker.io") ref.domain = std::string(kDefaultDomain);
    } else {
        if (name.size() == 64 && all_hex(name))
            invalid(text, "a 64-character hexadecimal string is an image id, not a repository name");
        ref.domain = std::string(kDefaultDomain);
        ref.path = std::string(name);
    }
    if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) ref.path = "library/" + ref.path;

    if (has_upper(ref.path)) invalid(text, "repository name must be lowercase");
    std::size_t start = 0;
    for (;;) {
        auto end = ref.path.find('/', start);
        std::string_view comp = std::string_view(ref.path).substr(start, end - start);
        if (!valid_path_component(comp))
            invalid(text, comp.empty() ? "empty path component"
                                       : "invalid path component \"" + std::string(comp.substr(0, 64)) +
                                             "\" (use lowercase letters, digits and single . _ __ or - separators)");
        if (end == std::string::npos) break;
        start = end + 1;
    }
    if (ref.repository().size() > kMaxNameLength)
        invalid(text, "repository name must not be longer than 255 characters");
    if (ref.tag.empty() && !ref.digest) ref.tag = std::string(kDefaultTag);
    return ref;
}

std::optional<Reference> try_parse_reference(std::string_view text) noexcept {
    try {
        return parse_reference(text);
    } catch (...) {
        return std::nullopt;
    }
}

bool looks_like_image_id(std::string_view text) noexcept {
    constexpr std::string_view prefix = "sha256:";
    if (text.substr(0, prefix.size()) == prefix) {
        auto hex = text.substr(prefix.size());
        return !hex.empty() && hex.size() <= 64 && all_hex(hex);
    }
    return text.size() == 64 && all_hex(text);
}

bool could_be_image_id_prefix(std::string_view text) noexcept {
    constexpr std::string_view prefix = "sha256:";
    if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
    return !text.empty() && text.size() <= 64 && all_hex(text);
}

}  // namespace kiln::image
