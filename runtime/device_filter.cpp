#include "runtime/device_filter.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"

namespace kiln::runtime {

namespace {

// Registers of the program: the request, unpacked once at the start.
constexpr __u8 r0 = 0, r1 = 1, r_type = 2, r_access = 3, r_major = 4, r_minor = 5;

bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}
bpf_insn load_u32(__u8 dst, __s16 offset) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, r1, offset, 0); }
bpf_insn alu32_imm(__u8 op, __u8 dst, __s32 imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov32_reg(__u8 dst, __u8 src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov64_imm(__u8 dst, __s32 imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
// The offset is patched once the rule's block is complete: to its end.
bpf_insn jump_imm(__u8 op, __u8 dst, __s32 imm) { return insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

__s32 bpf_type(DeviceType type) { return type == DeviceType::block ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR; }

__s32 bpf_access(unsigned access) {
    return ((access & device_read) ? BPF_DEVCG_ACC_READ : 0) | ((access & device_write) ? BPF_DEVCG_ACC_WRITE : 0) |
           ((access & device_mknod) ? BPF_DEVCG_ACC_MKNOD : 0);
}

// Appends the test of one rule: falls through to "return allow" when the request
// matches, else jumps past the block to the next rule.
bool emit_rule(const DeviceRule& rule, std::vector<bpf_insn>& out) {
    const std::size_t start = out.size();
    if (rule.type != DeviceType::all) out.push_back(jump_imm(BPF_JNE, r_type, bpf_type(rule.type)));
    if (rule.allow && rule.access != device_rwm) {
        // Skip unless the request asks for nothing beyond the rule's access.
        out.push_back(mov32_reg(r1, r_access));
        out.push_back(alu32_imm(BPF_AND, r1, ~bpf_access(rule.access) & 0xffff));
        out.push_back(jump_imm(BPF_JNE, r1, 0));
    } else if (!rule.allow && rule.access != device_rwm) {
        // Skip unless the request asks for some of what the rule denies.
        out.push_back(mov32_reg(r1, r_access));
        out.push_back(alu32_imm(BPF_AND, r1, bpf_access(rule.access)));
        out.push_back(jump_imm(BPF_JEQ, r1, 0));
    }
    if (rule.major != DeviceRule::any) out.push_back(jump_imm(BPF_JNE, r_major, static_cast<__s32>(rule.major)));
    if (rule.minor != DeviceRule::any) out.push_back(jump_imm(BPF_JNE, r_minor, static_cast<__s32>(rule.minor)));
    const bool unconditional = out.size() == start;
    out.push_back(mov64_imm(r0, rule.allow ? 1 : 0));
    out.push_back(exit_insn());
    for (std::size_t pc = start; pc < out.size(); ++pc)
        if (BPF_CLASS(out[pc].code) == BPF_JMP && BPF_OP(out[pc].code) != BPF_EXIT)
            out[pc].off = static_cast<__s16>(out.size() - pc - 1);
    return unconditional;
}

long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

}  // namespace

std::vector<bpf_insn> compile_device_filter(const DevicePolicy& policy) {
    std::vector<bpf_insn> out = {
        load_u32(r_type, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu32_imm(BPF_AND, r_type, 0xffff),
        load_u32(r_access, offsetof(bpf_cgroup_dev_ctx, access_type)),
        alu32_imm(BPF_RSH, r_access, 16),
        load_u32(r_major, offsetof(bpf_cgroup_dev_ctx, major)),
        load_u32(r_minor, offsetof(bpf_cgroup_dev_ctx, minor)),
    };
    // The last matching rule decides, so test from the end; after a rule that matches
    // everything nothing more is reachable (and the verifier refuses unreachable code).
    for (auto it = policy.rules.rbegin(); it != policy.rules.rend(); ++it)
        if (emit_rule(*it, out)) return out;
    out.push_back(mov64_imm(r0, 0));
    out.push_back(exit_insn());
    return out;
}

DeviceFilter::DeviceFilter(const DevicePolicy& policy) {
    const std::vector<bpf_insn> program = compile_device_filter(policy);
    static const char license[] = "Apache-2.0";
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<__u64>(program.data());
    attr.insn_cnt = static_cast<__u32>(program.size());
    attr.license = reinterpret_cast<__u64>(license);
    std::strncpy(attr.prog_name, "kiln_devices", sizeof attr.prog_name - 1);
    fd_.reset(static_cast<int>(bpf(BPF_PROG_LOAD, attr)));
    if (fd_) return;
    const int err = errno;
    // Ask again with the verifier's log only on failure: logging costs time on every load.
    std::vector<char> log(64 * 1024);
    attr.log_level = 1;
    attr.log_buf = reinterpret_cast<__u64>(log.data());
    attr.log_size = static_cast<__u32>(log.size());
    UniqueFd retry(static_cast<int>(bpf(BPF_PROG_LOAD, attr)));
    std::string text(log.data());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    throw Error(std::string("load the BPF device filter: ") + std::strerror(err) +
                (text.empty() ? "" : "; verifier: " + text));
}

void DeviceFilter::attach(int cgroup_fd) const {
    bpf_attr attr{};
    attr.target_fd = static_cast<__u32>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<__u32>(fd_.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    // Like runc: programs that nested managers attach below this group still run too.
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attr) != 0) throw_errno("attach the BPF device filter to the container's cgroup");
}

}  // namespace kiln::runtime
