// User-defined networks (`kiln network …`): name resolution among members, --internal,
// isolation between networks and from kiln0, one-line errors, and what is left once
// everything is removed. Traffic goes only to the tests' own containers and to a listener
// of the test's own on kiln0's gateway address.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "runtime/netlink/netlink.hpp"
#include "runtime/network/network_store.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

using kiln::test::inspect_value;
using kiln::test::Kiln;
using kiln::test::soon;
using kiln::test::trimmed;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string create_network(const Kiln& kiln, std::vector<std::string> flags, const std::string& name) {
    std::vector<std::string> args = {"network", "create"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(name);
    auto r = kiln(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const std::string id = trimmed(r.out);
    REQUIRE(id.size() == 64);
    return id;
}

// busybox httpd serving "hello NAME" on port 80, detached.
void start_web(const Kiln& kiln, const std::string& name, std::vector<std::string> flags) {
    std::vector<std::string> args = {"run", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"localhost/busybox", "sh", "-c",
                             "mkdir /www && echo hello " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"});
    auto r = kiln(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
}

void start_sleeper(const Kiln& kiln, const std::string& name, std::vector<std::string> flags) {
    std::vector<std::string> args = {"run", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"localhost/busybox", "sleep", "1000"});
    REQUIRE(kiln(args).exit_code == 0);
}

kiln::test::CommandResult in(const Kiln& kiln, const std::string& container, const std::string& script) {
    return kiln({"exec", container, "sh", "-c", script});
}

// GET / from host inside container `from`. busybox 1.35's wget crashes (SIGSEGV) when given
// -T, so its time limit is busybox's timeout.
std::string fetch(const Kiln& kiln, const std::string& from, const std::string& host) {
    return in(kiln, from, "timeout 3 wget -q -O - http://" + host + "/ 2>&1").out;
}

std::string network_value(const Kiln& kiln, const std::string& name, const std::string& format) {
    return trimmed(kiln({"network", "inspect", "-f", format, name}).out);
}

bool link_exists(const std::string& name) { return kiln::netlink::Socket().link_index(name) != 0; }

std::string iptables_save() {
    return kiln::test::run_command({"iptables-save"}).out;
}

// No trace of network (id, subnet) on the host: bridge, rules, leases, host state.
void check_network_gone(const std::string& id, const std::string& subnet) {
    const std::string bridge = "br-" + id.substr(0, 12);
    CHECK_FALSE(link_exists(bridge));
    const std::string rules = iptables_save();
    CHECK_FALSE(contains(rules, subnet));
    CHECK_FALSE(contains(rules, bridge));
    CHECK_FALSE(kiln::path_exists(kiln::runtime::network_host_dir(id) + "/leases"));
    CHECK_FALSE(kiln::path_exists(kiln::runtime::network_host_dir(id) + "/members"));
}

// A TCP listener on the host that writes "reached" to every connection and closes it,
// until it goes out of scope.
class AnsweringListener {
public:
    explicit AnsweringListener(const std::string& address) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) == 1);
        REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_.get(), 16) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = std::to_string(ntohs(addr.sin_port));
        thread_ = std::thread([this] {
            while (!stop_) {
                pollfd p{fd_.get(), POLLIN, 0};
                if (::poll(&p, 1, 100) <= 0) continue;
                kiln::UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (conn.get() >= 0) (void)!::write(conn.get(), "reached\n", 8);
            }
        });
    }
    ~AnsweringListener() {
        stop_ = true;
        thread_.join();
    }
    const std::string& port() const { return port_; }

private:
    kiln::UniqueFd fd_;
    std::string port_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace

TEST_CASE("containers on a user-defined network reach each other by name, alias and short id, also ones started later",
          "[network][usernet]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string net = create_network(kiln, {}, "appnet");
    start_web(kiln, "web1", {"--network", "appnet", "--network-alias", "front"});
    start_sleeper(kiln, "client", {"--net", "appnet"});
    const std::string web1_id = inspect_value(kiln, "web1", "{{.Id}}");
    CHECK(soon([&] { return fetch(kiln, "client", "web1") == "hello web1\n"; }));
    CHECK(fetch(kiln, "client", "front") == "hello web1\n");
    CHECK(fetch(kiln, "client", web1_id.substr(0, 12)) == "hello web1\n");
    // Started after the client: the client's /etc/hosts learns it.
    start_web(kiln, "web2", {"--network", net.substr(0, 12)});
    CHECK(soon([&] { return fetch(kiln, "client", "web2") == "hello web2\n"; }));
    CHECK(contains(in(kiln, "web2", "cat /etc/hosts").out, "client"));

    CHECK(inspect_value(kiln, "web1", "{{.HostConfig.NetworkMode}}") == "appnet");
    CHECK(inspect_value(kiln, "web1", "{{.NetworkSettings.Networks.appnet.NetworkID}}") == net);
    CHECK(contains(inspect_value(kiln, "web1", "{{json .NetworkSettings.Networks.appnet.Aliases}}"), "\"front\""));
    const std::string ip = inspect_value(kiln, "web1", "{{.NetworkSettings.Networks.appnet.IPAddress}}");
    const std::string subnet = network_value(kiln, "appnet", "{{(index .IPAM.Config 0).Subnet}}");
    CHECK(kiln({"network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "appnet"}).out == subnet + "\n");
    auto shown = kiln({"network", "inspect", "appnet"});
    CHECK(contains(shown.out, "\"IPv4Address\": \"" + ip + "/"));
    CHECK(contains(shown.out, "\"Name\": \"web1\""));
    CHECK(contains(shown.out, "\"Scope\": \"local\""));
    auto ps = kiln({"ps", "--filter", "network=appnet", "--format", "{{.Names}}"});
    CHECK(std::count(ps.out.begin(), ps.out.end(), '\n') == 3);
    auto ls = kiln({"network", "ls"});
    CHECK(ls.out.starts_with("NETWORK ID"));
    for (const char* name : {"bridge", "host", "none", "appnet"}) CHECK(contains(ls.out, name));
    CHECK(trimmed(kiln({"network", "ls", "-q", "--no-trunc", "--filter", "name=appn"}).out) == net);

    // The last one leaving takes the veths and leases with it.
    REQUIRE(kiln({"rm", "-f", "web1", "web2", "client"}).exit_code == 0);
    for (const auto& name : kiln::test::dir_entries(kiln::runtime::network_host_dir(net) + "/leases"))
        CHECK(name == ".lock");
    CHECK(kiln({"network", "rm", "appnet"}).out == "appnet\n");
    check_network_gone(net, subnet);
}

TEST_CASE("an internal network reaches its peers only: no default route, no host gateway beyond its bridge",
          "[network][usernet]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    // kiln0 exists once a container has used it: its gateway is the host's own address.
    start_sleeper(kiln, "outside", {});
    const std::string gateway = inspect_value(kiln, "outside", "{{.NetworkSettings.Gateway}}");
    REQUIRE_FALSE(gateway.empty());
    AnsweringListener listener(gateway);
    const std::string probe = "timeout 3 nc -w 2 " + gateway + " " + listener.port() + " </dev/null";
    // The listener answers a container that may reach it.
    CHECK(contains(in(kiln, "outside", probe).out, "reached"));  // the control

    const std::string net = create_network(kiln, {"--internal", "--subnet", "10.213.7.0/24"}, "closed");
    CHECK(network_value(kiln, "closed", "{{.Internal}}") == "true");
    start_web(kiln, "inner", {"--network", "closed"});
    start_sleeper(kiln, "peer", {"--network", "closed", "--ip", "10.213.7.50"});
    CHECK(trimmed(in(kiln, "peer", "ip -4 addr show eth0 | grep -o '10.213.7.50/24'").out) == "10.213.7.50/24");
    CHECK(soon([&] { return fetch(kiln, "peer", "inner") == "hello inner\n"; }));
    auto routes = in(kiln, "peer", "ip route");
    CHECK_FALSE(contains(routes.out, "default"));
    CHECK(contains(routes.out, "10.213.7.0/24"));
    CHECK_FALSE(contains(in(kiln, "peer", probe).out, "reached"));
    CHECK_FALSE(contains(iptables_save(), "-s 10.213.7.0/24"));  // no MASQUERADE

    REQUIRE(kiln({"rm", "-f", "inner", "peer", "outside"}).exit_code == 0);
    REQUIRE(kiln({"network", "rm", net}).exit_code == 0);
    check_network_gone(net, "10.213.7.0/24");
}

TEST_CASE("a container on one network reaches neither another network's containers nor kiln0's", "[network][usernet]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string a = create_network(kiln, {}, "neta");
    const std::string b = create_network(kiln, {}, "netb");
    const std::string subnet_a = network_value(kiln, "neta", "{{(index .IPAM.Config 0).Subnet}}");
    const std::string subnet_b = network_value(kiln, "netb", "{{(index .IPAM.Config 0).Subnet}}");
    CHECK(subnet_a != subnet_b);
    start_web(kiln, "web-a", {"--network", "neta"});
    start_sleeper(kiln, "client-a", {"--network", "neta"});
    start_sleeper(kiln, "client-b", {"--network", "netb"});
    start_web(kiln, "web-default", {});
    const std::string ip_a = inspect_value(kiln, "web-a", "{{.NetworkSettings.Networks.neta.IPAddress}}");
    const std::string ip_default = inspect_value(kiln, "web-default", "{{.NetworkSettings.IPAddress}}");
    // The control: the same request works from the network itself.
    CHECK(soon([&] { return fetch(kiln, "client-a", ip_a) == "hello web-a\n"; }));
    CHECK_FALSE(contains(fetch(kiln, "client-b", ip_a), "hello"));
    CHECK_FALSE(contains(fetch(kiln, "client-b", ip_default), "hello"));
    CHECK_FALSE(contains(fetch(kiln, "client-b", "web-a"), "hello"));  // not resolvable either
    // Not wget as the container's PID 1, which timeout's SIGTERM cannot stop: sh stays PID 1.
    auto from_default = kiln({"run", "--rm", "localhost/busybox", "sh", "-c",
                              "timeout 3 wget -q -O - http://" + ip_a + "/; true"});
    CHECK_FALSE(contains(from_default.out, "hello"));
    // The default bridge keeps Docker's behaviour: no names there.
    CHECK_FALSE(contains(kiln({"exec", "web-default", "cat", "/etc/hosts"}).out, "web-a"));

    REQUIRE(kiln({"rm", "-f", "web-a", "client-a", "client-b", "web-default"}).exit_code == 0);
    auto pruned = kiln({"network", "prune", "-f"});
    CHECK(pruned.out == "Deleted Networks:\nneta\nnetb\n");
    check_network_gone(a, subnet_a);
    check_network_gone(b, subnet_b);
}

TEST_CASE("bad network requests are one-line errors that change nothing", "[network][usernet]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string net = create_network(kiln, {"--subnet", "10.214.0.0/16", "--gateway", "10.214.0.254", "--label", "team=a"}, "used");
    CHECK(network_value(kiln, "used", "{{(index .IPAM.Config 0).Gateway}}") == "10.214.0.254");
    CHECK(network_value(kiln, "used", "{{.Labels.team}}") == "a");
    auto one_line = [](const kiln::test::CommandResult& r) { return std::count(r.err.begin(), r.err.end(), '\n') == 1; };
    struct Case {
        std::vector<std::string> args;
        int code;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"network", "create", "--subnet", "10.214.5.0/24", "other"}, 1,
         "invalid pool request: Pool overlaps with other one on this address space"},
        {{"network", "create", "used"}, 1, "network with name used already exists"},
        {{"network", "create", "bridge"}, 1, "network with name bridge already exists"},
        {{"network", "create", "_bad"}, 1, "invalid network name"},
        {{"network", "create", "bad/name"}, 1, "invalid network name"},
        {{"network", "create", "--subnet", "10.215.0.0/24", "--gateway", "10.216.0.1", "gw"}, 1, "invalid gateway"},
        {{"network", "create", "--subnet", "10.215.0.1/24", "hostbits"}, 1, "invalid subnet"},
        {{"network", "rm", "bridge"}, 1, "bridge is a pre-defined network and cannot be removed"},
        {{"network", "rm", "nosuch"}, 1, "network nosuch not found"},
        {{"run", "--rm", "--network", "nosuch", "localhost/busybox", "true"}, 125, "network nosuch not found"},
        {{"run", "--rm", "--network", "used", "--ip", "10.99.0.5", "localhost/busybox", "true"}, 125, "invalid --ip"},
        {{"run", "--rm", "--network-alias", "x", "localhost/busybox", "true"}, 125, "user-defined networks"},
    };
    const std::string rules_before = iptables_save();
    for (const auto& c : cases) {
        INFO(c.args[0] << " " << c.args[1] << " " << c.args.back());
        auto r = kiln(c.args);
        CHECK(r.exit_code == c.code);
        CHECK(one_line(r));
        CHECK(contains(r.err, c.message));
    }
    start_sleeper(kiln, "member", {"--network", "used"});
    auto busy = kiln({"network", "rm", "used"});
    CHECK(busy.exit_code == 1);
    CHECK(one_line(busy));
    CHECK(contains(busy.err, "error while removing network: network used id " + net + " has active endpoints"));
    auto names = kiln({"network", "ls", "--format", "{{.Name}}"});
    CHECK(names.out == "bridge\nhost\nnone\nused\n");
    CHECK(trimmed(kiln({"ps", "-aq"}).out).size() == 12);
    REQUIRE(kiln({"rm", "-f", "member"}).exit_code == 0);
    REQUIRE(kiln({"network", "rm", "used"}).exit_code == 0);
    check_network_gone(net, "10.214.0.0/16");
}

TEST_CASE("network connect gives a running container an interface its new peers resolve, disconnect takes it away, "
          "and a stopped container gets it at start",
          "[network][usernet]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_base(kiln);
    const std::string front = create_network(kiln, {}, "front");
    const std::string back = create_network(kiln, {}, "back");
    const std::string back_subnet = network_value(kiln, "back", "{{(index .IPAM.Config 0).Subnet}}");
    start_web(kiln, "api", {"--network", "back"});
    start_sleeper(kiln, "app", {"--network", "front"});
    CHECK_FALSE(contains(fetch(kiln, "app", "api"), "hello"));  // the control: not on back yet

    auto connected = kiln({"network", "connect", "--alias", "edge", "back", "app"});
    INFO(connected.err);
    REQUIRE(connected.exit_code == 0);
    CHECK(connected.out.empty());
    const std::string ip = inspect_value(kiln, "app", "{{.NetworkSettings.Networks.back.IPAddress}}");
    REQUIRE_FALSE(ip.empty());
    CHECK(contains(in(kiln, "app", "ip -4 -o addr show eth1").out, ip + "/"));
    CHECK(inspect_value(kiln, "app", "{{.NetworkSettings.Networks.back.NetworkID}}") == back);
    CHECK(contains(inspect_value(kiln, "app", "{{json .NetworkSettings.Networks.back.Aliases}}"), "\"edge\""));
    CHECK_FALSE(inspect_value(kiln, "app", "{{.NetworkSettings.Networks.front.IPAddress}}").empty());
    CHECK(soon([&] { return fetch(kiln, "app", "api") == "hello api\n"; }));
    CHECK(contains(in(kiln, "api", "ping -c 1 -W 1 edge").out, "(" + ip + ")"));
    CHECK(contains(in(kiln, "api", "ping -c 1 -W 1 app").out, "(" + ip + ")"));
    CHECK(contains(kiln({"network", "inspect", "back"}).out, "\"Name\": \"app\""));
    CHECK(kiln({"ps", "--filter", "network=back", "--format", "{{.Names}}"}).out == "app\napi\n");

    auto one_line_error = [&](std::vector<std::string> args, const std::string& message) {
        INFO(args[1]);
        auto r = kiln(args);
        CHECK(r.exit_code == 1);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(contains(r.err, message));
    };
    one_line_error({"network", "connect", "back", "app"}, "endpoint with name app already exists in network back");
    one_line_error({"network", "connect", "host", "app"}, "connected to host network");
    one_line_error({"network", "connect", "--alias", "x", "bridge", "app"}, "user defined networks");
    one_line_error({"network", "connect", "nosuch", "app"}, "network nosuch not found");
    one_line_error({"network", "rm", "back"}, "has active endpoints");

    REQUIRE(kiln({"network", "disconnect", "back", "app"}).exit_code == 0);
    CHECK(in(kiln, "app", "ip link show eth1").exit_code != 0);
    CHECK_FALSE(contains(fetch(kiln, "app", "api"), "hello"));
    CHECK_FALSE(contains(in(kiln, "api", "cat /etc/hosts").out, "edge"));
    CHECK(inspect_value(kiln, "app", "{{json .NetworkSettings.Networks}}").find("\"back\"") == std::string::npos);
    one_line_error({"network", "disconnect", "back", "app"}, "is not connected to network back");
    CHECK(kiln({"network", "disconnect", "-f", "back", "app"}).exit_code == 0);

    // Connected while stopped: recorded, and made when it starts (and each time it starts).
    REQUIRE(kiln({"create", "--name", "later", "--network", "front", "localhost/busybox", "sleep", "1000"}).exit_code == 0);
    REQUIRE(kiln({"network", "connect", "back", "later"}).exit_code == 0);
    for (int start = 0; start < 2; ++start) {
        REQUIRE(kiln({"start", "later"}).exit_code == 0);
        CHECK(soon([&] { return fetch(kiln, "later", "api") == "hello api\n"; }));
        CHECK(contains(in(kiln, "api", "cat /etc/hosts").out, "later"));
        REQUIRE(kiln({"stop", "-t", "0", "later"}).exit_code == 0);
    }
    CHECK_FALSE(contains(in(kiln, "api", "cat /etc/hosts").out, "later"));

    // From the network it was created on: eth0 goes, and from its next start the network
    // connected since is its eth0, with the default route.
    REQUIRE(kiln({"network", "connect", "back", "app"}).exit_code == 0);
    REQUIRE(kiln({"network", "disconnect", "front", "app"}).exit_code == 0);
    CHECK(in(kiln, "app", "ip link show eth0").exit_code != 0);
    CHECK(contains(in(kiln, "app", "ip link show eth1").out, "eth1"));
    CHECK(inspect_value(kiln, "app", "{{json .NetworkSettings.Networks}}").find("\"front\"") == std::string::npos);
    CHECK_FALSE(contains(kiln({"ps", "--filter", "network=front", "--format", "{{.Names}}"}).out, "app"));
    one_line_error({"network", "disconnect", "front", "app"}, "is not connected to network front");
    REQUIRE(kiln({"stop", "-t", "0", "app"}).exit_code == 0);
    REQUIRE(kiln({"start", "app"}).exit_code == 0);
    const std::string back_ip = inspect_value(kiln, "app", "{{.NetworkSettings.Networks.back.IPAddress}}");
    REQUIRE_FALSE(back_ip.empty());
    CHECK(contains(in(kiln, "app", "ip -4 -o addr show eth0").out, back_ip + "/"));
    CHECK(contains(in(kiln, "app", "ip route").out, "default"));
    CHECK(soon([&] { return fetch(kiln, "app", "api") == "hello api\n"; }));

    REQUIRE(kiln({"rm", "-f", "api", "app", "later"}).exit_code == 0);
    REQUIRE(kiln({"network", "rm", "front", "back"}).exit_code == 0);
    check_network_gone(back, back_subnet);
    for (const auto& link : kiln::test::dir_entries("/sys/class/net")) CHECK_FALSE(link.starts_with("vx"));
}

TEST_CASE("a member holding a lock on its /etc/hosts cannot stop its peers joining or learning names", "[network][usernet]") {
    SKIP_UNLESS_ROOT();
    Kiln kiln;
    kiln::test::import_probe_image(kiln);
    const std::string net = create_network(kiln, {}, "lockednet");
    REQUIRE(kiln({"run", "-d", "--name", "holder", "--network", "lockednet", "localhost/probe", "sleep", "1000"}).exit_code ==
            0);
    // The attack: the container takes the flock a naive rewriter would wait for, forever.
    REQUIRE(kiln({"exec", "-d", "holder", "kiln-probe", "flock", "/etc/hosts"}).exit_code == 0);
    CHECK(soon([&] { return contains(in(kiln, "holder", "cat /proc/locks").out, "FLOCK"); }));
    start_sleeper(kiln, "joiner", {"--network", "lockednet"});
    CHECK(soon([&] { return contains(in(kiln, "holder", "cat /etc/hosts").out, "joiner"); }));
    CHECK(contains(in(kiln, "joiner", "cat /etc/hosts").out, "holder"));
    REQUIRE(kiln({"rm", "-f", "joiner"}).exit_code == 0);
    CHECK_FALSE(contains(in(kiln, "holder", "cat /etc/hosts").out, "joiner"));
    const std::string subnet = network_value(kiln, "lockednet", "{{(index .IPAM.Config 0).Subnet}}");
    REQUIRE(kiln({"rm", "-f", "holder"}).exit_code == 0);
    REQUIRE(kiln({"network", "rm", "lockednet"}).exit_code == 0);
    check_network_gone(net, subnet);
}
