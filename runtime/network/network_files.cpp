#include "runtime/network/network_files.hpp"

#include <sstream>

namespace kiln::runtime {

std::string hosts_file(const NetworkFiles& f) {
    std::string text =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
    for (const auto& [host, ip] : f.extra_hosts) text += ip + "\t" + host + "\n";
    text += (f.address.empty() ? std::string("127.0.1.1") : f.address) + "\t" + f.hostname + "\n";
    return text;
}

std::string resolv_conf(const NetworkFiles& f, const std::string& host) {
    if (f.host_network && f.dns.empty() && f.dns_search.empty() && f.dns_options.empty()) return host;
    std::vector<std::string> nameservers, search, options, other;
    std::istringstream lines(host);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string kind, value;
        words >> kind;
        if (kind == "nameserver") {
            words >> value;
            if (!value.starts_with("127.") && value != "::1" && !value.empty()) nameservers.push_back(value);
        } else if (kind == "search" || kind == "domain") {
            while (words >> value) search.push_back(value);
        } else if (kind == "options") {
            while (words >> value) options.push_back(value);
        } else if (!line.empty() && line[0] != '#' && line[0] != ';') {
            other.push_back(line);
        }
    }
    if (!f.dns.empty()) nameservers = f.dns;
    if (nameservers.empty()) nameservers = {"8.8.8.8", "8.8.4.4"};
    if (!f.dns_search.empty()) search = f.dns_search;
    if (!f.dns_options.empty()) options = f.dns_options;
    std::string text;
    for (const auto& l : other) text += l + "\n";
    auto joined = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v) s += " " + x;
        return s;
    };
    if (!search.empty()) text += "search" + joined(search) + "\n";
    for (const auto& ns : nameservers) text += "nameserver " + ns + "\n";
    if (!options.empty()) text += "options" + joined(options) + "\n";
    return text;
}

}  // namespace kiln::runtime
