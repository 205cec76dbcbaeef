#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "runtime/netlink/peer_hosts.hpp"
#include "runtime/network/network_config.hpp"
#include "runtime/network/network_store.hpp"
#include "runtime/network/subnet_pool.hpp"
#include "runtime/network/user_network.hpp"
#include "util/error.hpp"

using namespace kiln::runtime;

TEST_CASE("network subnets: CIDR text, host routes and Docker's default pools", "[network][usernet]") {
    CHECK(parse_cidr("10.5.0.0/24").text() == "10.5.0.0/24");
    CHECK(parse_cidr("10.5.0.0/24").gateway() == *parse_ipv4("10.5.0.1"));
    for (const char* bad : {"10.5.0.0", "10.5.0.1/24", "10.5.0.0/31", "10.0.0.0/7", "10.5.0.0/x", "10.5.0.0/", "/24"})
        CHECK_THROWS_AS(parse_cidr(bad), kiln::Error);

    const std::string routes =
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  // default: ignored
        "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"  // 172.18.0.0/16
        "kiln0\t00001EAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";  // 172.30.0.0/16
    auto taken = route_subnets(routes);
    REQUIRE(taken.size() == 2);
    CHECK(taken[0].text() == "172.18.0.0/16");
    CHECK(route_subnets(routes, "kiln0").size() == 1);

    CHECK(choose_network_subnet({}).text() == "172.18.0.0/16");
    CHECK(choose_network_subnet(taken).text() == "172.19.0.0/16");
    // A host route inside a pool entry takes the whole entry.
    CHECK(choose_network_subnet({parse_cidr("172.18.4.0/24")}).text() == "172.19.0.0/16");
    std::vector<Subnet> all;
    for (int second = 18; second <= 29; ++second) all.push_back(parse_cidr("172." + std::to_string(second) + ".0.0/16"));
    CHECK(choose_network_subnet(all).text() == "192.168.0.0/20");
    all.push_back(parse_cidr("192.168.0.0/16"));
    CHECK_THROWS_WITH(choose_network_subnet(all), Catch::Contains("non-overlapping IPv4 address pool"));

    CHECK(overlaps_any(parse_cidr("10.214.5.0/24"), {parse_cidr("10.214.0.0/16")}));
    CHECK(overlaps_any(parse_cidr("10.0.0.0/8"), {parse_cidr("10.214.0.0/16")}));
    CHECK_FALSE(overlaps_any(parse_cidr("10.215.0.0/16"), {parse_cidr("10.214.0.0/16")}));
}

TEST_CASE("network names and aliases follow Docker's rules", "[network][usernet]") {
    for (const char* good : {"a", "appnet", "App_Net.2-x", "9lives"}) CHECK_NOTHROW(validate_network_name(good));
    for (const char* bad : {"", "-x", "_x", ".x", "a/b", "a b", "a:b", "..", "é"})
        CHECK_THROWS_WITH(validate_network_name(bad), Catch::Contains("invalid network name"));
    CHECK_THROWS(validate_network_name(std::string(129, 'a')));
    CHECK_NOTHROW(validate_host_alias("front.end_1"));
    for (const char* bad : {"", "-x", "a b", "a/b", "a\tb"}) CHECK_THROWS(validate_host_alias(bad));
    CHECK(is_predefined_network("bridge"));
    CHECK(is_predefined_network("none"));
    CHECK_FALSE(is_predefined_network("bridge2"));
}

TEST_CASE("a member's /etc/hosts is its own base and every other member's line", "[network][usernet]") {
    const std::string base = "127.0.0.1\tlocalhost\n10.1.0.2\tabc\n";
    const std::string members = "aaa\t10.1.0.2\tweb front aaa\nbbb\t10.1.0.3\tclient bbb\n";
    CHECK(kiln::netlink::peer_hosts_text(base, "aaa", members) == base + "10.1.0.3\tclient bbb\n");
    CHECK(kiln::netlink::peer_hosts_text(base, "bbb", members) == base + "10.1.0.2\tweb front aaa\n");
    CHECK(kiln::netlink::peer_hosts_text("x", "ccc", "") == "x\n");
    // On two networks: the peers of both, each line once, never the member itself.
    const std::string both = members + "bbb\t10.1.0.3\tclient bbb\naaa\t10.2.0.7\tweb aaa\nccc\t10.2.0.8\tdb ccc\n";
    CHECK(kiln::netlink::peer_hosts_text(base, "aaa", both) == base + "10.1.0.3\tclient bbb\n10.2.0.8\tdb ccc\n");
}

TEST_CASE("a network's rules name its bridge and subnet only, and an internal one has no NAT", "[network][usernet]") {
    NetworkDefinition n;
    n.id = std::string(64, 'a');
    n.subnet = parse_cidr("10.7.0.0/24");
    n.gateway = n.subnet.gateway();
    CHECK(network_bridge_name(n) == "br-aaaaaaaaaaaa");
    const std::string add = network_rules(n, "-I"), del = network_rules(n, "-D");
    CHECK(add.find("-I POSTROUTING -s 10.7.0.0/24 ! -o br-aaaaaaaaaaaa -j MASQUERADE") != std::string::npos);
    CHECK(del.find("-D POSTROUTING -s 10.7.0.0/24 ! -o br-aaaaaaaaaaaa -j MASQUERADE") != std::string::npos);
    // Inserted in reverse, so the accept among members ends up first.
    CHECK(add.rfind("-i br-aaaaaaaaaaaa -o br-aaaaaaaaaaaa -j ACCEPT") > add.find("-i br-aaaaaaaaaaaa -o br+ -j DROP"));
    CHECK(add.find("-i br+ -o br-aaaaaaaaaaaa -j DROP") != std::string::npos);
    CHECK(add.find("-i kiln0 -o br-aaaaaaaaaaaa -j DROP") != std::string::npos);
    n.internal = true;
    const std::string internal = network_rules(n, "-I");
    CHECK(internal.find("MASQUERADE") == std::string::npos);
    CHECK(internal.find("-i br-aaaaaaaaaaaa -j DROP") != std::string::npos);
    CHECK(internal.find("-o br-aaaaaaaaaaaa -j DROP") != std::string::npos);
    CHECK(internal.find("ACCEPT") == internal.rfind("ACCEPT"));  // only the one among members
}

TEST_CASE("a container is on the network it was created on until disconnected, and on those connected since",
          "[network][usernet]") {
    NetworkConfig n;
    n.mode = "appnet";
    n.network_id = std::string(64, 'a');
    n.connected.push_back({"bridge", "", {}, ""});
    n.connected.push_back({"back", std::string(64, 'b'), {"edge"}, "10.9.0.5"});
    CHECK(on_network(n, std::string(64, 'a')));
    CHECK(on_network(n, ""));
    CHECK(on_network(n, std::string(64, 'b')));
    CHECK_FALSE(on_network(n, std::string(64, 'c')));
    n.first_disconnected = true;
    CHECK_FALSE(on_network(n, std::string(64, 'a')));
    CHECK(on_network(n, std::string(64, 'b')));
    // Kept in the record as written.
    auto back = network_config_from_json({{"network", network_config_json(n)}});
    CHECK(back.first_disconnected);
    REQUIRE(back.connected.size() == 2);
    CHECK(back.connected[1].aliases == std::vector<std::string>{"edge"});
    CHECK(back.connected[1].ip == "10.9.0.5");
    NetworkConfig bridge;
    CHECK(on_network(bridge, ""));
    CHECK_FALSE(on_network(bridge, std::string(64, 'a')));
}
