#include <catch2/catch.hpp>

#include "runtime/network/bridge.hpp"
#include "runtime/network/ipv4.hpp"
#include "runtime/network/network_files.hpp"
#include "runtime/network/published_ports.hpp"
#include "util/error.hpp"

using namespace kiln::runtime;

TEST_CASE("IPv4 addresses and Docker's MAC from them", "[network]") {
    CHECK(parse_ipv4("172.30.0.2") == 0xac1e0002u);
    CHECK_FALSE(parse_ipv4("172.30.0"));
    CHECK_FALSE(parse_ipv4("172.30.0.256"));
    CHECK_FALSE(parse_ipv4("172.30.0.2 "));
    CHECK_FALSE(parse_ipv4("a.b.c.d"));
    CHECK(ipv4_text(0xac1e0002u) == "172.30.0.2");
    unsigned char mac[6];
    mac_for_address(0xac1e0002u, mac);
    CHECK(mac_text(mac) == "02:42:ac:1e:00:02");
    CHECK(parse_mac("02:42:AC:1e:07:07", mac));
    CHECK(mac_text(mac) == "02:42:ac:1e:07:07");
    CHECK_FALSE(parse_mac("02:42:ac:1e:07", mac));
    CHECK_FALSE(parse_mac("02-42-ac-1e-07-07", mac));
}

TEST_CASE("the bridge's subnet overlaps no host route", "[network]") {
    const std::string header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
    // 192.0.2.0/24 and a default route: the first candidate.
    CHECK(choose_bridge_subnet(header + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                                        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
              .text() == "172.30.0.0/16");
    // 172.16.0.0/12 covers 172.30 and 172.31.
    CHECK(choose_bridge_subnet(header + "eth1\t000010AC\t00000000\t0001\t0\t0\t0\t0000F0FF\t0\t0\t0\n").text() ==
          "10.88.0.0/16");
    // kiln0's own route does not count.
    CHECK(choose_bridge_subnet(header + "kiln0\t00001EAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n").text() ==
          "172.30.0.0/16");
    CHECK_THROWS_AS(choose_bridge_subnet(header + "eth1\t00000000\t00000000\t0001\t0\t0\t0\t00000080\t0\t0\t0\n"
                                                  "eth1\t000000AC\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"),
                    kiln::Error);
}

TEST_CASE("publish (-p) values", "[network]") {
    auto [key, b] = parse_publish("127.0.0.1:8080:80");
    CHECK(key == "80/tcp");
    CHECK(b == PortBinding{"127.0.0.1", "8080"});
    CHECK(parse_publish("8080:53/udp").first == "53/udp");
    CHECK(parse_publish("8080:53/udp").second == PortBinding{"", "8080"});
    CHECK(parse_publish("80").second == PortBinding{"", ""});
    CHECK(parse_publish("127.0.0.1::80").second == PortBinding{"127.0.0.1", ""});
    for (const char* bad : {"", "abc", "80:abc", "70000:80", "0", "80/sctp", "1.2.3:80:80", "1:2:3:4", "8000-8010:80"})
        CHECK_THROWS_AS(parse_publish(bad), kiln::Error);
}

TEST_CASE("resolv.conf and hosts by Docker's rules", "[network]") {
    const std::string host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.test\noptions edns0\n";
    NetworkFiles f{"box", "172.30.0.5", false, {}, {}, {}, {{"db", "10.1.2.3"}}};
    CHECK(resolv_conf(f, host) == "search corp.test\nnameserver 10.0.0.2\noptions edns0\n");
    CHECK(resolv_conf(f, "nameserver 127.0.0.53\nnameserver ::1\n") == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    f.dns = {"1.1.1.1"};
    f.dns_search = {"a.test", "b.test"};
    f.dns_options = {"ndots:2"};
    CHECK(resolv_conf(f, host) == "search a.test b.test\nnameserver 1.1.1.1\noptions ndots:2\n");
    NetworkFiles on_host{"box", "", true, {}, {}, {}, {}};
    CHECK(resolv_conf(on_host, host) == host);
    const std::string hosts = hosts_file(f);
    CHECK(hosts.starts_with("127.0.0.1\tlocalhost\n"));
    CHECK(hosts.find("10.1.2.3\tdb\n") != std::string::npos);
    CHECK(hosts.ends_with("172.30.0.5\tbox\n"));
}
