// The BPF device program is checked by running it: a small interpreter for the
// instructions the generator emits, fed every interesting request, must answer as
// DevicePolicy::allows does. (The kernel's verifier and the real hook are exercised by
// tests/integration/devices_test.cpp.)
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <optional>

#include "runtime/device_filter.hpp"

using namespace kiln::runtime;

namespace {

// Runs the program on one request; nullopt if it uses an instruction the interpreter
// does not know (so a generator change cannot pass by accident).
std::optional<std::uint64_t> run_filter(const std::vector<bpf_insn>& program, const bpf_cgroup_dev_ctx& ctx) {
    std::uint64_t reg[11] = {};
    const auto* bytes = reinterpret_cast<const unsigned char*>(&ctx);
    for (std::size_t pc = 0, steps = 0; pc < program.size() && steps < 10000; ++pc, ++steps) {
        const bpf_insn& i = program[pc];
        const auto imm = static_cast<std::uint32_t>(i.imm);
        switch (i.code) {
        case BPF_LDX | BPF_MEM | BPF_W: {
            if (i.src_reg != 1 || i.off < 0 || i.off + 4 > static_cast<int>(sizeof ctx)) return std::nullopt;
            std::uint32_t v;
            std::memcpy(&v, bytes + i.off, 4);
            reg[i.dst_reg] = v;
            break;
        }
        case BPF_ALU | BPF_AND | BPF_K: reg[i.dst_reg] = static_cast<std::uint32_t>(reg[i.dst_reg]) & imm; break;
        case BPF_ALU | BPF_RSH | BPF_K: reg[i.dst_reg] = static_cast<std::uint32_t>(reg[i.dst_reg]) >> imm; break;
        case BPF_ALU | BPF_MOV | BPF_X: reg[i.dst_reg] = static_cast<std::uint32_t>(reg[i.src_reg]); break;
        case BPF_ALU64 | BPF_MOV | BPF_K: reg[i.dst_reg] = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm)); break;
        case BPF_JMP | BPF_JNE | BPF_K: if (reg[i.dst_reg] != imm) pc += static_cast<std::size_t>(i.off); break;
        case BPF_JMP | BPF_JEQ | BPF_K: if (reg[i.dst_reg] == imm) pc += static_cast<std::size_t>(i.off); break;
        case BPF_JMP | BPF_EXIT: return reg[0];
        default: return std::nullopt;
        }
    }
    return std::nullopt;  // fell off the end: the verifier would refuse it
}

std::uint32_t bpf_access_of(unsigned access) {
    return ((access & device_read) ? BPF_DEVCG_ACC_READ : 0) | ((access & device_write) ? BPF_DEVCG_ACC_WRITE : 0) |
           ((access & device_mknod) ? BPF_DEVCG_ACC_MKNOD : 0);
}

// Every combination of type, a few device numbers and each access set.
void check_agrees(const DevicePolicy& policy) {
    const auto program = compile_device_filter(policy);
    for (DeviceType type : {DeviceType::block, DeviceType::character})
        for (auto [major, minor] : {std::pair{1, 3}, {1, 11}, {5, 2}, {7, 0}, {8, 1}, {10, 200}, {136, 7}, {4, 1}})
            for (unsigned access = 1; access <= device_rwm; ++access) {
                bpf_cgroup_dev_ctx ctx{};
                ctx.access_type = (bpf_access_of(access) << 16) |
                                  (type == DeviceType::block ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
                ctx.major = static_cast<std::uint32_t>(major);
                ctx.minor = static_cast<std::uint32_t>(minor);
                INFO(static_cast<char>(type) << ' ' << major << ':' << minor << " access " << access);
                auto verdict = run_filter(program, ctx);
                REQUIRE(verdict);
                CHECK(*verdict == (policy.allows(type, major, minor, access) ? 1u : 0u));
            }
}

}  // namespace

TEST_CASE("the BPF device filter decides like the policy it was built from", "[runtime][devices]") {
    check_agrees(DevicePolicy::docker_default());
    check_agrees(DevicePolicy{});  // deny all
    auto widened = DevicePolicy::docker_default();
    widened.add("b 7:* rw");
    widened.rules.push_back({DeviceType::character, 1, 3, device_write, false});
    widened.add("c *:11 r");
    check_agrees(widened);
}

TEST_CASE("a rule that matches everything ends the program (no unreachable code)", "[runtime][devices]") {
    auto policy = DevicePolicy::docker_default();
    policy.add("a");
    const auto program = compile_device_filter(policy);
    CHECK(program.size() == 8);  // six loads of the request, then "return 1"
    CHECK(program.back().code == (BPF_JMP | BPF_EXIT));
    check_agrees(policy);
    check_agrees(DevicePolicy::allow_all());
}
