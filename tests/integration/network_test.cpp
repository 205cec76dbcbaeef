// Container networks: --network none|bridge|host|container:X, the bridge's addresses and
// routes, published ports, the network files, and what is left after rm -f. Traffic goes
// only to 127.0.0.1 and to the tests' own containers.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/leases.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

using kiln::test::inspect_value;
using kiln::test::Kiln;
using kiln::test::sh;
using kiln::test::soon;
using kiln::test::trimmed;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The body of GET / from ip:port, "" when nothing answers.
std::string http_get(const std::string& ip, int port) {
    kiln::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) return "";
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
    const std::string request = "GET / HTTP/1.0\r\nHost: test\r\n\r\n";
    if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) return "";
    std::string reply;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
    auto body = reply.find("\r\n\r\n");
    return body == std::string::npos ? "" : reply.substr(body + 4);
}

// A TCP port on 127.0.0.1 nobody listens on right now.
int free_port() {
    kiln::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
}

// busybox httpd serving "hello NAME" on port 80, detached.
std::string start_web(const Kiln& kiln, const std::string& name, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"run", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"localhost/busybox", "sh", "-c",
                             "mkdir /www && echo hello " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"});
    auto r = kiln(args);
    REQUIRE(r.exit_code == 0);
    return trimmed(r.out);
}

std::string dnat_rules() { return kiln::test::run_command({"iptables", "-w", "-t", "nat", "-S", "KILN-DNAT"}).out; }

// No container's lease names id.
bool lease_gone(const std::string& id) {
    for (const auto& name : kiln::test::dir_entries(kiln::runtime::leases_dir())) {
        try {
            if (kiln::read_file(kiln::runtime::leases_dir() + "/" + name) == id) return false;
        } catch (const kiln::Error&) {
        }
    }
    return true;
}

}  // namespace

TEST_CASE("network none has only lo and bad network flags are one-line errors that create nothing", "[network]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    auto none = sh(kiln, {"--network", "none"}, "cat /proc/net/dev");
    REQUIRE(none.exit_code == 0);
    CHECK(contains(none.out, "lo:"));
    CHECK_FALSE(contains(none.out, "eth0"));
    for (std::vector<std::string> flags : {std::vector<std::string>{"--network", "nosuch"},
                                           {"-p", "80:abc"},
                                           {"-p", "1.2.3:80:80"},
                                           {"-p", "70000:80"},
                                           {"-p", "80/sctp"},
                                           {"--ip", "192.0.2.200"},
                                           {"--ip", "not-an-ip"},
                                           {"--mac-address", "02:42:zz:00:00:01"},
                                           {"--network", "none", "-p", "8080:80"},
                                           {"--network", "container:nosuch"},
                                           {"--add-host", "nocolon"}}) {
        INFO(flags[0] << " " << flags[1]);
        auto r = sh(kiln, flags, "true");
        CHECK(r.exit_code == 125);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
    CHECK(trimmed(kiln({"ps", "-aq"}).out).empty());
}

TEST_CASE("the default bridge gives eth0 an address, a route and a MAC from it, reachable from the host and other containers",
          "[network]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string id = start_web(kiln, "web");
    const std::string ip = inspect_value(kiln, "web", "{{.NetworkSettings.IPAddress}}");
    const std::string gateway = inspect_value(kiln, "web", "{{.NetworkSettings.Gateway}}");
    REQUIRE_FALSE(ip.empty());
    CHECK(inspect_value(kiln, "web", "{{.NetworkSettings.IPPrefixLen}}") == "16");
    CHECK(inspect_value(kiln, "web", "{{.HostConfig.NetworkMode}}") == "bridge");
    CHECK(inspect_value(kiln, "web", "{{.NetworkSettings.Networks.bridge.IPAddress}}") == ip);
    const std::string mac = inspect_value(kiln, "web", "{{.NetworkSettings.MacAddress}}");
    CHECK(mac.starts_with("02:42:"));

    auto inside = sh(kiln, {"--network", "container:web"},
                     "cat /sys/class/net/eth0/address; grep -c '^eth0\t00000000' /proc/net/route; cat /etc/hostname");
    REQUIRE(inside.exit_code == 0);
    CHECK(contains(inside.out, mac));        // container:web shares web's interfaces
    CHECK(contains(inside.out, "\n1\n"));    // and its default route
    CHECK(contains(inside.out, id.substr(0, 12)));  // and its hostname

    CHECK(soon([&] { return http_get(ip, 80) == "hello web\n"; }));
    auto peer = sh(kiln, {}, "wget -q -O - http://" + ip + "/ && ping -c 1 -W 5 " + gateway + " > /dev/null && echo pinged");
    CHECK(peer.exit_code == 0);
    CHECK(peer.out == "hello web\npinged\n");

    REQUIRE(kiln({"rm", "-f", "web"}).exit_code == 0);
    CHECK(kiln::test::host_traces_gone(id));
    CHECK(lease_gone(id));
}

TEST_CASE("20 containers started at once get 20 distinct addresses, and rm -f leaves no veth or lease", "[network]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    std::vector<std::string> ids(20);
    std::vector<std::thread> starts;
    for (int i = 0; i < 20; ++i)
        starts.emplace_back([&, i] { ids[i] = trimmed(kiln({"run", "-d", "localhost/busybox", "sleep", "1000"}).out); });
    for (auto& t : starts) t.join();
    std::set<std::string> addresses;
    for (const auto& id : ids) {
        REQUIRE(id.size() == 64);
        addresses.insert(inspect_value(kiln, id, "{{.NetworkSettings.IPAddress}}"));
    }
    CHECK(addresses.size() == 20);
    CHECK_FALSE(addresses.contains(""));
    std::vector<std::string> rm = {"rm", "-f"};
    rm.insert(rm.end(), ids.begin(), ids.end());
    REQUIRE(kiln(rm).exit_code == 0);
    for (const auto& id : ids) {
        CHECK(kiln::test::host_traces_gone(id));
        CHECK(lease_gone(id));
    }
}

TEST_CASE("a port published on 127.0.0.1 answers the host, shows in port and ps, and goes with the container",
          "[network]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const int port = free_port();
    const std::string id = start_web(kiln, "pub", {"-p", "127.0.0.1:" + std::to_string(port) + ":80"});
    const std::string ip = inspect_value(kiln, "pub", "{{.NetworkSettings.IPAddress}}");
    CHECK(soon([&] { return http_get("127.0.0.1", port) == "hello pub\n"; }));
    CHECK(trimmed(kiln({"port", "pub"}).out) == "80/tcp -> 127.0.0.1:" + std::to_string(port));
    CHECK(contains(kiln({"ps"}).out, "127.0.0.1:" + std::to_string(port) + "->80/tcp"));
    CHECK(contains(dnat_rules(), ip + ":80"));

    // -p CONTAINER: a free host port, chosen at start.
    start_web(kiln, "any", {"-p", "80"});
    auto chosen = trimmed(kiln({"port", "any", "80"}).out);
    REQUIRE(chosen.starts_with("0.0.0.0:"));
    CHECK(soon([&] { return http_get("127.0.0.1", std::stoi(chosen.substr(8))) == "hello any\n"; }));

    REQUIRE(kiln({"rm", "-f", "pub", "any"}).exit_code == 0);
    CHECK(kiln::test::host_traces_gone(id));
    CHECK_FALSE(contains(dnat_rules(), ip + ":80"));
    CHECK(http_get("127.0.0.1", port).empty());
}

TEST_CASE("a host port in use is an error before the container starts", "[network]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    kiln::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener.get(), 1) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    const std::string port = std::to_string(ntohs(addr.sin_port));
    auto r = sh(kiln, {"-p", "127.0.0.1:" + port + ":80"}, "echo ran");
    CHECK(r.exit_code == 125);
    CHECK_FALSE(contains(r.out, "ran"));
    CHECK(contains(r.err, "127.0.0.1:" + port));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(trimmed(kiln({"ps", "-aq"}).out).empty());
}

TEST_CASE("add-host, dns, dns-search, dns-option, hostname, ip and mac-address show in the container", "[network]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    REQUIRE(sh(kiln, {}, "true").exit_code == 0);  // the bridge exists from here on
    auto subnet = kiln::runtime::existing_bridge_subnet();
    REQUIRE(subnet);
    const std::string ip = kiln::runtime::ipv4_text(subnet->network + 7 * 256 + 7);
    auto r = sh(kiln,
                {"--add-host", "db.internal:10.1.2.3", "--add-host", "gw:host-gateway", "--dns", "10.9.9.9",
                 "--dns-search", "example.test", "--dns-option", "ndots:2", "--hostname", "box1", "--ip", ip,
                 "--mac-address", "02:42:ac:1e:07:07"},
                "cat /etc/hosts /etc/resolv.conf; hostname; cat /sys/class/net/eth0/address; "
                "grep -q " + ip + " /proc/net/fib_trie && echo has-ip");
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "10.1.2.3\tdb.internal\n"));
    CHECK(contains(r.out, "\tgw\n"));
    CHECK(contains(r.out, ip + "\tbox1\n"));
    CHECK(contains(r.out, "has-ip"));
    CHECK(contains(r.out, "nameserver 10.9.9.9\n"));
    CHECK(contains(r.out, "search example.test\n"));
    CHECK(contains(r.out, "options ndots:2\n"));
    CHECK(contains(r.out, "box1\n02:42:ac:1e:07:07\n"));
    // No --dns: the host's resolvers without loopback ones, Google's when none is left.
    auto plain = sh(kiln, {}, "grep nameserver /etc/resolv.conf");
    CHECK_FALSE(contains(plain.out, "nameserver 127."));
    CHECK_FALSE(plain.out.empty());
}
