#pragma once
// The /etc/hostname, /etc/hosts and /etc/resolv.conf `docker run` gives a container.
#include <string>
#include <utility>
#include <vector>

namespace kiln::runtime {

struct NetworkFiles {
    std::string hostname;
    std::string address;  // the container's bridge address; "": none (none, host)
    bool host_network = false;
    std::vector<std::string> dns, dns_search, dns_options;            // --dns, --dns-search, --dns-option
    std::vector<std::pair<std::string, std::string>> extra_hosts;     // --add-host, host-gateway resolved
};

std::string hosts_file(const NetworkFiles& f);

// Docker's rules from the host's resolv.conf text: with the host's network, the host's
// file as it is; otherwise its nameservers without the loopback ones (which mean nothing
// in another namespace), Google's 8.8.8.8 and 8.8.4.4 when none is left; --dns,
// --dns-search and --dns-option replace the host's lines of their kind.
std::string resolv_conf(const NetworkFiles& f, const std::string& host_resolv_conf);

}  // namespace kiln::runtime
