#include "runtime/seccomp_compile.hpp"

#include "runtime/seccomp_cache.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "runtime/kernel_version.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln::runtime {

namespace {

// x32 syscalls reach the filter as AUDIT_ARCH_X86_64 with this bit set in the number.
constexpr std::uint32_t x32_syscall_bit = 0x40000000;

struct CtxDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

void check(int rc, const std::string& what) {
    if (rc < 0) throw_errno("seccomp: " + what, -rc);
}


// "SCMP_ARCH_X86_64" → libseccomp's token; 0 for an arch this libseccomp does not know.
std::uint32_t arch_token(std::string_view scmp_name) {
    constexpr std::string_view prefix = "SCMP_ARCH_";
    if (!scmp_name.starts_with(prefix)) return 0;
    std::string lower(scmp_name.substr(prefix.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return seccomp_arch_resolve_name(lower.c_str());
}

std::string_view docker_name_of(std::uint32_t token) {
    for (const auto& name : seccomp_arch_names())
        if (arch_token(name.scmp) == token) return name.docker;
    return "";
}

// The arches the filter covers, native first (libseccomp always includes it).
std::vector<std::uint32_t> target_arches(const SeccompProfile& profile) {
    const std::uint32_t native = seccomp_arch_native();
    std::vector<std::string> names = profile.architectures;
    if (names.empty())
        for (const auto& entry : profile.arch_map)
            if (arch_token(entry.architecture) == native) {
                names.push_back(entry.architecture);
                names.insert(names.end(), entry.sub_architectures.begin(), entry.sub_architectures.end());
                break;
            }
    std::vector<std::uint32_t> arches{native};
    for (const auto& name : names) {
        std::uint32_t token = arch_token(name);
        if (token != 0 && std::find(arches.begin(), arches.end(), token) == arches.end()) arches.push_back(token);
    }
    return arches;
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

bool applies(const SeccompRule& rule, std::string_view arch, CapMask caps, KernelVersion kernel) {
    const auto& in = rule.includes;
    const auto& ex = rule.excludes;
    if (contains(ex.arches, arch) || (caps & ex.caps) != 0 || (ex.min_kernel && kernel >= *ex.min_kernel))
        return false;
    if (!in.arches.empty() && !contains(in.arches, arch)) return false;
    if ((caps & in.caps) != in.caps) return false;
    return !in.min_kernel || kernel >= *in.min_kernel;
}

std::vector<const SeccompRule*> applicable_rules(const SeccompProfile& profile, std::uint32_t arch, CapMask caps) {
    std::vector<const SeccompRule*> rules;
    std::string_view name = docker_name_of(arch);
    for (const auto& rule : profile.syscalls)
        if (applies(rule, name, caps, running_kernel())) rules.push_back(&rule);
    return rules;
}

std::uint32_t scmp_action(SeccompAction action, std::optional<std::uint32_t> errno_ret) {
    std::uint32_t data = errno_ret.value_or(EPERM);
    switch (action) {
        case SeccompAction::kill_thread: return SCMP_ACT_KILL_THREAD;
        case SeccompAction::kill_process: return SCMP_ACT_KILL_PROCESS;
        case SeccompAction::trap: return SCMP_ACT_TRAP;
        case SeccompAction::errno_return: return SCMP_ACT_ERRNO(data);
        case SeccompAction::trace: return SCMP_ACT_TRACE(data);
        case SeccompAction::allow: return SCMP_ACT_ALLOW;
        case SeccompAction::log: return SCMP_ACT_LOG;
    }
    return SCMP_ACT_KILL_PROCESS;
}

bool permissive(std::uint32_t action) { return action == SCMP_ACT_ALLOW || action == SCMP_ACT_LOG; }

scmp_compare scmp_op(SeccompOp op) {
    switch (op) {
        case SeccompOp::not_equal: return SCMP_CMP_NE;
        case SeccompOp::less: return SCMP_CMP_LT;
        case SeccompOp::less_equal: return SCMP_CMP_LE;
        case SeccompOp::equal: return SCMP_CMP_EQ;
        case SeccompOp::greater_equal: return SCMP_CMP_GE;
        case SeccompOp::greater: return SCMP_CMP_GT;
        case SeccompOp::masked_equal: return SCMP_CMP_MASKED_EQ;
    }
    return SCMP_CMP_EQ;
}

// The argument conditions of one group as libseccomp rules: one rule with all of them when
// each names a different argument; otherwise one rule per condition (Docker's "or").
std::vector<std::vector<scmp_arg_cmp>> condition_sets(const SeccompRule& rule) {
    std::vector<scmp_arg_cmp> all;
    bool repeated = false;
    for (const auto& arg : rule.args) {
        for (const auto& seen : all) repeated = repeated || seen.arg == arg.index;
        all.push_back({arg.index, scmp_op(arg.op), arg.value, arg.value_two});
    }
    if (!repeated) return {all};
    std::vector<std::vector<scmp_arg_cmp>> sets;
    for (const auto& cmp : all) sets.push_back({cmp});
    return sets;
}

// One arch's filter: libseccomp applies a rule to every arch of a context, and includes/
// excludes may differ per arch, so each arch gets its own context. (Each is also exported
// on its own: libseccomp takes several times longer to generate one multi-arch program
// than the single-arch ones together, and this sits on every `kiln run`'s start.)
Ctx arch_filter(const SeccompProfile& profile, std::uint32_t arch, CapMask caps) {
    const std::uint32_t default_action = scmp_action(profile.default_action, profile.default_errno_ret);
    Ctx ctx(seccomp_init(default_action));
    if (!ctx) throw Error("seccomp: seccomp_init failed");
    if (arch != seccomp_arch_native()) {
        check(seccomp_arch_add(ctx.get(), arch), "add arch");
        check(seccomp_arch_remove(ctx.get(), seccomp_arch_native()), "remove native arch");
    }
    // A binary search over syscall numbers instead of a linear walk on every syscall, for
    // the native arch; 32-bit compat programs are rare and keep the cheaper linear form
    // (generating the tree costs start latency).
    if (arch == seccomp_arch_native())
        check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "set optimize");
    for (const SeccompRule* rule : applicable_rules(profile, arch, caps)) {
        std::uint32_t action = scmp_action(rule->action, rule->errno_ret);
        // libseccomp refuses a rule that repeats the default action; it is a no-op anyway.
        if (action == default_action) continue;
        auto sets = condition_sets(*rule);
        for (const auto& name : rule->names) {
            // Unknown to libseccomp or absent on this arch: skipped, as runc does.
            if (seccomp_syscall_resolve_name_arch(arch, name.c_str()) < 0) continue;
            // Rules take the native number (or libseccomp's pseudo-number for a syscall the
            // native arch lacks) and libseccomp translates it by name.
            int nr = seccomp_syscall_resolve_name(name.c_str());
            for (const auto& set : sets)
                check(seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(set.size()), set.data()),
                      "rule for " + name);
        }
    }
    return ctx;
}

std::vector<sock_filter> export_program(scmp_filter_ctx ctx) {
    // libseccomp 2.5 exports only to an fd: go through a memfd.
    UniqueFd mem(::memfd_create("kiln-seccomp", MFD_CLOEXEC));
    if (!mem) throw_errno("memfd_create");
    check(seccomp_export_bpf(ctx, mem.get()), "export");
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
        throw Error("seccomp: bad exported program size");
    std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (::pread(mem.get(), program.data(), static_cast<std::size_t>(size), 0) != size)
        throw_errno("seccomp: read exported program");
    return program;
}

// A few classic-BPF instructions with forward jumps to labels, resolved at the end.
class BpfAssembler {
public:
    using Label = std::size_t;
    Label label() {
        targets_.push_back(unbound);
        return targets_.size() - 1;
    }
    void bind(Label l) { targets_[l] = code_.size(); }
    void load_word(std::uint32_t offset) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
    void ret(std::uint32_t value) { code_.push_back(BPF_STMT(BPF_RET | BPF_K, value)); }
    void jump(Label to) { emit(BPF_JMP | BPF_JA, 0, to, to); }
    void append(const std::vector<sock_filter>& code) { code_.insert(code_.end(), code.begin(), code.end()); }
    // if (A <op> k) goto yes; else goto no.
    void branch(std::uint16_t op, std::uint32_t k, Label yes, Label no) { emit(BPF_JMP | op | BPF_K, k, yes, no); }

    std::vector<sock_filter> finish() {
        for (const auto& fix : fixups_) {
            sock_filter& insn = code_[fix.at];
            auto offset = [&](Label l) {
                if (targets_[l] == unbound || targets_[l] <= fix.at) throw Error("seccomp: bad stub label");
                return targets_[l] - fix.at - 1;
            };
            if (BPF_OP(insn.code) == BPF_JA) {
                insn.k = static_cast<std::uint32_t>(offset(fix.yes));
                continue;
            }
            if (offset(fix.yes) > 255 || offset(fix.no) > 255) throw Error("seccomp: stub jump too far");
            insn.jt = static_cast<std::uint8_t>(offset(fix.yes));
            insn.jf = static_cast<std::uint8_t>(offset(fix.no));
        }
        return std::move(code_);
    }

private:
    static constexpr std::size_t unbound = ~std::size_t{0};
    struct Fixup {
        std::size_t at;
        Label yes, no;
    };
    void emit(std::uint16_t code, std::uint32_t k, Label yes, Label no) {
        fixups_.push_back({code_.size(), yes, no});
        code_.push_back(BPF_JUMP(code, k, 0, 0));
    }
    std::vector<sock_filter> code_;
    std::vector<std::size_t> targets_;
    std::vector<Fixup> fixups_;
};

struct ArchProgram {
    std::uint32_t arch;                   // SCMP_ARCH_* token
    std::optional<std::uint32_t> ceiling;  // ENOSYS above this number, if set
    std::vector<sock_filter> program;     // libseccomp's, for this arch alone
};

// The program kiln installs: a dispatcher on seccomp_data.arch (and, under
// AUDIT_ARCH_X86_64, the x32 bit of the number) that jumps to each arch's own libseccomp
// program. Before the jump comes runc's answer to "libseccomp cannot say ENOSYS for
// syscalls it has never heard of": nr > ceiling returns ENOSYS. An arch outside the filter
// goes to the first program, whose own arch check applies libseccomp's bad-arch action.
// Classic BPF jumps are relative and forward, so the programs are appended unchanged.
std::vector<sock_filter> dispatch(const std::vector<ArchProgram>& programs) {
    BpfAssembler bpf;
    std::vector<BpfAssembler::Label> starts;
    for (std::size_t i = 0; i < programs.size(); ++i) starts.push_back(bpf.label());
    auto find = [&](std::uint32_t arch) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < programs.size(); ++i)
            if (programs[i].arch == arch) return i;
        return std::nullopt;
    };
    // nr is loaded: ENOSYS above the ceiling, else on to the arch's program.
    auto enter = [&](std::optional<std::size_t> index) {
        if (!index) return bpf.jump(starts.front());
        if (const auto& ceiling = programs[*index].ceiling) {
            auto within = bpf.label(), above = bpf.label();
            bpf.branch(BPF_JGT, *ceiling, above, within);
            bpf.bind(above);
            bpf.ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
            bpf.bind(within);
        }
        bpf.jump(starts[*index]);
    };
    bpf.load_word(offsetof(seccomp_data, arch));
    // x86_64 and x32 share one audit arch; the number's x32 bit tells them apart.
    auto x86_64 = find(SCMP_ARCH_X86_64), x32 = find(SCMP_ARCH_X32);
    if (x86_64 || x32) {
        auto matched = bpf.label(), next = bpf.label(), is_x32 = bpf.label(), native = bpf.label();
        bpf.branch(BPF_JEQ, AUDIT_ARCH_X86_64, matched, next);
        bpf.bind(matched);
        bpf.load_word(offsetof(seccomp_data, nr));
        bpf.branch(BPF_JSET, x32_syscall_bit, is_x32, native);
        bpf.bind(native);
        enter(x86_64);
        bpf.bind(is_x32);
        enter(x32);
        bpf.bind(next);
    }
    for (std::size_t i = 0; i < programs.size(); ++i) {
        if (programs[i].arch == SCMP_ARCH_X86_64 || programs[i].arch == SCMP_ARCH_X32) continue;
        auto matched = bpf.label(), next = bpf.label();
        // libseccomp's arch tokens are the kernel's AUDIT_ARCH_* values.
        bpf.branch(BPF_JEQ, programs[i].arch, matched, next);
        bpf.bind(matched);
        bpf.load_word(offsetof(seccomp_data, nr));
        enter(i);
        bpf.bind(next);
    }
    bpf.jump(starts.front());
    for (std::size_t i = 0; i < programs.size(); ++i) {
        bpf.bind(starts[i]);
        bpf.append(programs[i].program);
    }
    return bpf.finish();
}

}  // namespace

std::vector<SyscallCeiling> seccomp_syscall_ceilings(const SeccompProfile& profile, CapMask effective_caps) {
    std::vector<SyscallCeiling> ceilings;
    for (std::uint32_t arch : target_arches(profile)) {
        int highest = -1;
        for (const SeccompRule* rule : applicable_rules(profile, arch, effective_caps))
            for (const auto& name : rule->names)
                highest = std::max(highest, seccomp_syscall_resolve_name_arch(arch, name.c_str()));
        if (highest >= 0) ceilings.push_back({arch, static_cast<std::uint32_t>(highest)});
    }
    return ceilings;
}

std::vector<sock_filter> compile_seccomp(const SeccompProfile& profile, CapMask effective_caps) {
    // A permissive default gets no ENOSYS: an unknown syscall is allowed, as asked.
    bool enosys_above_ceiling = !permissive(scmp_action(profile.default_action, profile.default_errno_ret));
    auto ceilings = seccomp_syscall_ceilings(profile, effective_caps);
    std::vector<ArchProgram> programs;
    for (std::uint32_t arch : target_arches(profile)) {
        ArchProgram& p = programs.emplace_back(ArchProgram{arch, std::nullopt, {}});
        for (const auto& c : ceilings)
            if (c.arch == arch && enosys_above_ceiling) p.ceiling = c.highest;
        p.program = export_program(arch_filter(profile, arch, effective_caps).get());
    }
    std::vector<sock_filter> program = dispatch(programs);
    if (program.size() > BPF_MAXINSNS)
        throw Error("seccomp: the profile compiles to " + std::to_string(program.size()) +
                    " BPF instructions, more than the kernel's " + std::to_string(BPF_MAXINSNS));
    return program;
}

const std::vector<sock_filter>& default_seccomp_program() {
    // The built-in profile is part of the binary, which the cache key already names.
    static const std::vector<sock_filter> program = cached_seccomp_program(
        "docker-default\ncaps " + std::to_string(docker_default_capabilities()) + "\n",
        [] { return compile_seccomp(docker_default_seccomp_profile(), docker_default_capabilities()); });
    return program;
}

std::vector<sock_filter> default_seccomp_program_for(CapMask caps) {
    if (caps == docker_default_capabilities()) return default_seccomp_program();
    return cached_seccomp_program("docker-default\ncaps " + std::to_string(caps) + "\n",
                                  [caps] { return compile_seccomp(docker_default_seccomp_profile(), caps); });
}

bool install_seccomp(const std::vector<sock_filter>& program, ChildReport& report) {
    sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return report.fail_errno(errno, "load seccomp profile");
    return true;
}

}  // namespace kiln::runtime
