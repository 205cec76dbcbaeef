#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/seccomp_cache.hpp"
#include "util/fs.hpp"

using kiln::runtime::cached_seccomp_program;

namespace {

std::vector<sock_filter> fake_program(std::uint32_t marker) {
    return {sock_filter{BPF_LD | BPF_W | BPF_ABS, 0, 0, marker}, sock_filter{BPF_RET | BPF_K, 0, 0, 0x7fff0000}};
}

std::string only_file(const std::string& dir) {
    std::string found;
    for (auto& e : std::filesystem::directory_iterator(dir)) found = e.path();
    return found;
}

}  // namespace

TEST_CASE("a compiled seccomp program is kept and read back instead of compiled again", "[runtime][seccomp]") {
    if (::geteuid() != 0) {
        WARN("skipped: the cache is only written by root");
        return;
    }
    kiln::TempDir tmp("/tmp", "kiln-seccomp-cache-");
    const std::string dir = tmp.path() + "/cache";
    int compiled = 0;
    auto compile = [&] {
        ++compiled;
        return fake_program(7);
    };
    CHECK(cached_seccomp_program("profile A", compile, dir).size() == 2);
    CHECK(cached_seccomp_program("profile A", compile, dir)[0].k == 7);
    CHECK(compiled == 1);
    // Other inputs, another program.
    cached_seccomp_program("profile B", compile, dir);
    CHECK(compiled == 2);

    SECTION("a file others could have written is not trusted") {
        kiln::TempDir other("/tmp", "kiln-seccomp-cache-");
        const std::string d = other.path() + "/c";
        cached_seccomp_program("x", compile, d);
        REQUIRE(::chmod(only_file(d).c_str(), 0622) == 0);
        cached_seccomp_program("x", compile, d);
        CHECK(compiled == 4);
        REQUIRE(::chmod(only_file(d).c_str(), 0600) == 0);
        REQUIRE(::chmod(d.c_str(), 0777) == 0);
        cached_seccomp_program("x", compile, d);
        CHECK(compiled == 5);
    }
    SECTION("a truncated file is compiled again") {
        kiln::TempDir other("/tmp", "kiln-seccomp-cache-");
        const std::string d = other.path() + "/c";
        cached_seccomp_program("y", compile, d);
        REQUIRE(::truncate(only_file(d).c_str(), 5) == 0);
        CHECK(cached_seccomp_program("y", compile, d)[0].k == 7);
        CHECK(compiled == 4);
    }
}
