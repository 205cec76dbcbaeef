#include "registry/settings.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "registry/http.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::registry {

namespace {

// An address as 16 bytes (IPv4 mapped into ::ffff:0:0/96) so one CIDR match covers both.
struct Address {
    std::array<unsigned char, 16> bytes{};
};

std::optional<Address> parse_address(const std::string& text) {
    Address a;
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        a.bytes[10] = a.bytes[11] = 0xff;
        std::memcpy(a.bytes.data() + 12, &v4, 4);
        return a;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
        std::memcpy(a.bytes.data(), &v6, 16);
        return a;
    }
    return std::nullopt;
}

struct Cidr {
    Address network;
    int prefix = 0;  // over the 16-byte form
};

std::optional<Cidr> parse_cidr(const std::string& text) {
    auto slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    auto addr = parse_address(text.substr(0, slash));
    std::string bits = text.substr(slash + 1);
    if (!addr || bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    int prefix = std::stoi(bits);
    bool v4 = text.find(':') == std::string::npos;
    if (prefix > (v4 ? 32 : 128)) return std::nullopt;
    return Cidr{*addr, v4 ? prefix + 96 : prefix};
}

bool in_cidr(const Address& a, const Cidr& c) {
    for (int i = 0; i < c.prefix; ++i) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((a.bytes[byte] >> bit) & 1) != ((c.network.bytes[byte] >> bit) & 1)) return false;
    }
    return true;
}

// "host:port" or "[v6]:port" → host without brackets.
std::string host_of(const std::string& host_port) {
    if (host_port.starts_with("[")) {
        auto close = host_port.find(']');
        return host_port.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    }
    auto colon = host_port.find(':');
    if (colon != std::string::npos && host_port.find(':', colon + 1) == std::string::npos)
        return host_port.substr(0, colon);
    return host_port;
}

std::vector<Address> addresses_of(const std::string& host) {
    if (auto a = parse_address(host)) return {*a};
    std::vector<Address> out;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
    for (addrinfo* p = res; p; p = p->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {0};
        const void* src = p->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                                                  : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
        if (inet_ntop(p->ai_family, src, buf, sizeof buf))
            if (auto a = parse_address(buf)) out.push_back(*a);
    }
    freeaddrinfo(res);
    return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& what) {
    throw Error(path + ": " + key + ": " + what);
}

bool valid_mirror_url(const std::string& url) {
    if (!url.starts_with("http://") && !url.starts_with("https://")) return false;
    std::string authority = http::url_authority(url);
    if (authority.empty()) return false;
    // Docker refuses mirrors with a query or fragment; a path is allowed.
    return url.find_first_of("?#") == std::string::npos;
}

bool valid_host_port(const std::string& entry) {
    if (entry.empty() || entry.find_first_of("/ \t") != std::string::npos) return false;
    return entry.find("://") == std::string::npos;
}

}  // namespace

bool Settings::is_insecure(const std::string& host_port) const {
    if (http::is_loopback_host(host_port)) return true;
    std::vector<Address> addresses;
    bool resolved = false;
    for (const auto& entry : insecure_registries) {
        if (entry == host_port) return true;
        if (auto cidr = parse_cidr(entry)) {
            if (!resolved) {
                addresses = addresses_of(host_of(host_port));
                resolved = true;
            }
            for (const auto& a : addresses)
                if (in_cidr(a, *cidr)) return true;
        }
    }
    return false;
}

std::string settings_path() {
    if (const char* env = std::getenv("KILN_CONFIG"); env && *env) return env;
    return "/etc/kiln/config.json";
}

Settings load_settings(const std::string& path) {
    Settings settings;
    auto slash = path.rfind('/');
    settings.certs_dir = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/certs.d";
    if (!path_exists(path)) return settings;

    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(read_file(path));
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(path + ": not valid JSON: " + std::string(e.what()));
    }
    if (!doc.is_object()) throw Error(path + ": not a JSON object");

    // Keys kiln does not use (the rest of Docker's daemon.json) are ignored, so one file can
    // serve both; the keys kiln reads are checked strictly.
    if (auto it = doc.find("registry-mirrors"); it != doc.end()) {
        if (!it->is_array()) fail(path, "registry-mirrors", "not an array");
        for (std::size_t i = 0; i < it->size(); ++i) {
            const auto& v = (*it)[i];
            std::string key = "registry-mirrors[" + std::to_string(i) + "]";
            if (!v.is_string() || !valid_mirror_url(v.get<std::string>())) fail(path, key, "not a URL");
            std::string url = v.get<std::string>();
            while (url.ends_with("/")) url.pop_back();
            settings.registry_mirrors.push_back(url);
        }
    }
    if (auto it = doc.find("insecure-registries"); it != doc.end()) {
        if (!it->is_array()) fail(path, "insecure-registries", "not an array");
        for (std::size_t i = 0; i < it->size(); ++i) {
            const auto& v = (*it)[i];
            std::string key = "insecure-registries[" + std::to_string(i) + "]";
            if (!v.is_string()) fail(path, key, "not a string");
            std::string entry = v.get<std::string>();
            bool is_cidr_text = entry.find('/') != std::string::npos;
            if (is_cidr_text ? !parse_cidr(entry) : !valid_host_port(entry))
                fail(path, key, "not a host[:port] or a CIDR");
            settings.insecure_registries.push_back(entry);
        }
    }
    return settings;
}

}  // namespace kiln::registry
