#include <catch2/catch.hpp>

#include "runtime/port_bindings.hpp"
#include "util/error.hpp"

using namespace kiln::runtime;

namespace {

std::string message_of(const PortMap& ports, const std::string& port) {
    try {
        port_lines(ports, port, "web");
    } catch (const kiln::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("port prints every binding, or one port's, in docker's shape and natural order", "[runtime][port]") {
    PortMap ports;
    ports["80/tcp"] = {{"0.0.0.0", "8080"}, {"::", "8080"}};
    ports["9000/tcp"] = {{"127.0.0.1", "19000"}};
    ports["53/udp"] = {{"0.0.0.0", "5353"}};
    CHECK(port_lines(ports, "", "web") == std::vector<std::string>{"53/udp -> 0.0.0.0:5353", "80/tcp -> 0.0.0.0:8080",
                                                                   "80/tcp -> [::]:8080", "9000/tcp -> 127.0.0.1:19000"});
    CHECK(port_lines(ports, "80", "web") == std::vector<std::string>{"0.0.0.0:8080", "[::]:8080"});
    CHECK(port_lines(ports, "80/tcp", "web") == std::vector<std::string>{"0.0.0.0:8080", "[::]:8080"});
    CHECK(port_lines(ports, "53/udp", "web") == std::vector<std::string>{"0.0.0.0:5353"});
    CHECK(port_lines({}, "", "web").empty());
}

TEST_CASE("port refuses a port that is not published or not a number, in the docker CLI's words", "[runtime][port]") {
    PortMap ports;
    ports["80/tcp"] = {{"0.0.0.0", "8080"}};
    CHECK(message_of(ports, "53") == "Error: No public port '53' published for web");
    CHECK(message_of(ports, "80/udp") == "Error: No public port '80/udp' published for web");
    CHECK(message_of({}, "80/tcp") == "Error: No public port '80/tcp' published for web");
    CHECK(message_of(ports, "http") ==
          "Error: invalid port (http): strconv.ParseUint: parsing \"http\": invalid syntax");
    CHECK(message_of(ports, "70000") ==
          "Error: invalid port (70000): strconv.ParseUint: parsing \"70000\": value out of range");
    CHECK(message_of(ports, "/tcp") == "Error: invalid port (): strconv.ParseUint: parsing \"\": invalid syntax");
}

TEST_CASE("natural order compares digit runs as numbers", "[runtime][port]") {
    CHECK(natural_less("80/tcp", "443/tcp"));
    CHECK_FALSE(natural_less("443/tcp", "80/tcp"));
    CHECK(natural_less("a2", "a10"));
    CHECK(natural_less("a", "a1"));
    CHECK_FALSE(natural_less("a1", "a1"));
    CHECK(natural_less("0.0.0.0:80", "0.0.0.0:8080"));
}
