#include <catch2/catch.hpp>

#include "runtime/seccomp_profile.hpp"

TEST_CASE("the default seccomp profile compiles to one cached BPF program", "[runtime][seccomp]") {
    const auto& program = kiln::runtime::default_seccomp_program();
    CHECK(program.size() > 50);    // an arch check plus dozens of denied syscalls
    CHECK(program.size() < 4096);  // the kernel's BPF_MAXINSNS
    CHECK(&kiln::runtime::default_seccomp_program() == &program);
}
