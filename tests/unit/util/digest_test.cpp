#include <catch2/catch.hpp>

#include "util/digest.hpp"
#include "util/error.hpp"

using kiln::Digest;

TEST_CASE("sha256 of known inputs", "[util][digest]") {
    CHECK(kiln::sha256_of("").str() ==
          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(kiln::sha256_of("abc").hex() ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("incremental hashing equals one-shot hashing", "[util][digest]") {
    kiln::Sha256 h;
    h.update("a");
    h.update("bc");
    CHECK(h.finish() == kiln::sha256_of("abc"));
}

TEST_CASE("digest parsing round-trips and rejects malformed text", "[util][digest]") {
    auto d = kiln::sha256_of("x");
    CHECK(Digest::parse(d.str()) == d);
    CHECK(Digest::parse(d.str()).short_hex() == d.hex().substr(0, 12));
    CHECK_THROWS_AS(Digest::parse("sha256:abc"), kiln::Error);
    CHECK_THROWS_AS(Digest::parse("md5:" + d.hex()), kiln::Error);
    CHECK_THROWS_AS(Digest::parse("sha256:" + std::string(64, 'G')), kiln::Error);
    CHECK_THROWS_AS(Digest::parse("sha256:" + std::string(64, 'A')), kiln::Error);
    CHECK_FALSE(Digest::valid(d.str() + "0"));
    CHECK(Digest().empty());
}
