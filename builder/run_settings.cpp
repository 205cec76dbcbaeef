#include "builder/run_settings.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "runtime/container.hpp"
#include "runtime/ulimits.hpp"
#include "util/error.hpp"

namespace kiln::builder {

namespace {

bool valid_address(const std::string& text) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

// A host name as /etc/hosts can hold it: no blanks, no comment sign, nothing unprintable.
bool valid_host_name(const std::string& name) {
    if (name.empty() || name.size() > 253) return false;
    for (unsigned char c : name)
        if (c <= ' ' || c >= 0x7f || c == '#') return false;
    return true;
}

}  // namespace

std::string RunSettings::cache_text() const {
    std::string text;
    if (network != "default") text += " network=" + network;
    for (const auto& [name, address] : extra_hosts) text += " add-host=" + name + ":" + address;
    if (shm_size) text += fmt::format(" shm-size={}", shm_size);
    for (const auto& u : ulimits) text += fmt::format(" ulimit={}={}:{}", u.name, u.soft, u.hard);
    return text;
}

std::pair<std::string, std::string> parse_add_host(const std::string& text, bool allow_host_gateway) {
    // The docker CLI splits at the first ':' (an IPv6 address holds more) or at '='.
    auto sep = text.find_first_of(":=");
    if (sep == std::string::npos)
        throw Error("invalid argument \"" + text + "\" for \"--add-host\" flag: bad format for add-host: \"" + text + "\"");
    std::string name = text.substr(0, sep), address = text.substr(sep + 1);
    if (address.size() > 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
    if (address == "host-gateway" && allow_host_gateway) {
        if (!valid_host_name(name))
            throw Error("invalid argument \"" + text + "\" for \"--add-host\" flag: invalid host name \"" + name + "\"");
        return {name, address};
    }
    if (address == "host-gateway")
        throw Error("invalid argument \"" + text + "\" for \"--add-host\" flag: host-gateway has no meaning for a build's RUN steps (they have no bridge network)");
    if (!valid_host_name(name))
        throw Error("invalid argument \"" + text + "\" for \"--add-host\" flag: invalid host name \"" + name + "\"");
    if (!valid_address(address))
        throw Error("invalid argument \"" + text + "\" for \"--add-host\" flag: invalid IP address in add-host: \"" + address + "\"");
    return {name, address};
}

std::string parse_build_network(const std::string& text) {
    if (text == "default" || text == "none" || text == "host") return text;
    throw Error("network mode \"" + text + "\" not supported by kiln build (default, none or host)");
}

std::unique_ptr<TempDir> apply_run_settings(const RunSettings& settings, runtime::ContainerSpec& spec) {
    if (settings.shm_size > 0) spec.shm_size = settings.shm_size;
    if (!settings.ulimits.empty()) spec.rlimits = runtime::to_rlimits(settings.ulimits);
    if (settings.extra_hosts.empty()) return nullptr;
    // BuildKit's hosts file for a RUN: the loopback names, then each --add-host.
    std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    for (const auto& [name, address] : settings.extra_hosts) hosts += address + "\t" + name + "\n";
    auto dir = std::make_unique<TempDir>("/tmp", "kiln-build-hosts-");
    atomic_write(dir->path() + "/hosts", hosts, 0644);
    spec.binds.push_back({dir->path() + "/hosts", "/etc/hosts", true});
    return dir;
}

void remove_run_settings_stubs(const RunSettings& settings, const std::string& upper_dir) {
    if (settings.extra_hosts.empty()) return;
    // Through fds, never following a link: the RUN may have left symlinks in the layer.
    UniqueFd upper = open_directory(upper_dir);
    UniqueFd etc(::openat(upper.get(), "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!etc) return;
    struct stat st;
    if (::fstatat(etc.get(), "hosts", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0) return;
    if (::unlinkat(etc.get(), "hosts", 0) != 0) throw_errno("remove the /etc/hosts mount point from " + upper_dir);
}

}  // namespace kiln::builder
