#include <catch2/catch.hpp>

#include <linux/capability.h>
#include <unistd.h>

#include <string>

#include "runtime/seccomp_json.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace kiln::runtime;

namespace {

SeccompProfile parse(const std::string& json) { return parse_seccomp_profile(json, "p.json"); }

// The message of the error parsing `json` throws (empty if it parses).
std::string error_of(const std::string& json) {
    try {
        parse(json);
    } catch (const kiln::Error& e) {
        return e.what();
    }
    return "";
}

std::string with_rule(const std::string& rule) {
    return R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[)" + rule + "]}";
}

}  // namespace

TEST_CASE("a profile with every field parses into the model", "[runtime][seccomp]") {
    auto p = parse(R"({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        "flags": [], "listenerPath": "",
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "why not"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "includes": {"arches": ["amd64"], "minKernel": "4.8"},
             "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS", "includes": {}, "excludes": null},
            {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}
        ]})");
    CHECK(p.default_action == SeccompAction::errno_return);
    CHECK(p.default_errno_ret == 38u);
    CHECK(p.architectures == std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X32"});
    REQUIRE(p.syscalls.size() == 5);
    CHECK(p.syscalls[0].names == std::vector<std::string>{"read", "write"});
    CHECK(p.syscalls[1].names == std::vector<std::string>{"mkdir"});
    CHECK(p.syscalls[1].errno_ret == 13u);
    const auto& clone = p.syscalls[2];
    REQUIRE(clone.args.size() == 1);
    CHECK(clone.args[0] == SeccompArg{0, 2114060288, 0, SeccompOp::masked_equal});
    CHECK(clone.includes.arches == std::vector<std::string>{"amd64"});
    CHECK(clone.includes.min_kernel == KernelVersion{4, 8});
    CHECK(clone.excludes.caps == ((CapMask{1} << CAP_SYS_ADMIN) | (CapMask{1} << CAP_BPF)));
    CHECK(p.syscalls[3].action == SeccompAction::kill_process);
    CHECK(p.syscalls[4].action == SeccompAction::trace);
    CHECK(p.syscalls[4].errno_ret == 7u);
}

TEST_CASE("unknown syscall names are kept for the compiler to skip", "[runtime][seccomp]") {
    auto p = parse(with_rule(R"({"names":["read","no_such_syscall_yet"],"action":"SCMP_ACT_ALLOW"})"));
    CHECK(p.syscalls[0].names.size() == 2);
}

TEST_CASE("bad profiles are refused with one line naming the file and the entry", "[runtime][seccomp]") {
    struct Case {
        const char* what;
        std::string json;
        const char* expected;
    };
    const Case cases[] = {
        {"not JSON", "{", "p.json: not valid JSON"},
        {"not an object", "[]", "p.json: the profile: expected an object"},
        {"no default action", R"({"syscalls":[]})", "p.json: defaultAction: missing"},
        {"unknown default action", R"({"defaultAction":"SCMP_ACT_MAYBE"})",
         "p.json: defaultAction: unknown action \"SCMP_ACT_MAYBE\""},
        {"notify", R"({"defaultAction":"SCMP_ACT_NOTIFY"})", "SCMP_ACT_NOTIFY is not supported"},
        {"unknown top-level key", R"({"defaultAction":"SCMP_ACT_ERRNO","sycalls":[]})",
         "p.json: the profile: unknown key \"sycalls\""},
        {"errno on allow", R"({"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1})",
         "p.json: defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno"},
        {"both arch forms", R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[]})",
         "p.json: archMap: give either"},
        {"unknown arch", R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]})",
         "p.json: architectures[0]: unknown architecture \"SCMP_ARCH_Z80\""},
        {"flags", R"({"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_LOG"]})",
         "p.json: flags: seccomp filter flags are not supported"},
        {"syscalls not an array", R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":{}})",
         "p.json: syscalls: expected an array, got object"},
        {"unknown rule key", with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","arg":[]})"),
         "p.json: syscalls[0]: unknown key \"arg\""},
        {"rule without names", with_rule(R"({"action":"SCMP_ACT_ALLOW"})"), "p.json: syscalls[0]: no syscall names"},
        {"name and names", with_rule(R"({"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"})"),
         "p.json: syscalls[0]: give either \"name\" or \"names\""},
        {"name not a string", with_rule(R"({"names":["read",7],"action":"SCMP_ACT_ALLOW"})"),
         "p.json: syscalls[0].names[1]: expected a string, got number"},
        {"rule without action", with_rule(R"({"names":["read"]})"), "p.json: syscalls[0].action: missing"},
        {"unknown rule action", with_rule(R"({"names":["read"],"action":"allow"})"),
         "p.json: syscalls[0].action: unknown action \"allow\""},
        {"errno too large", with_rule(R"({"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":70000})"),
         "p.json: syscalls[0].errnoRet: 70000 is out of range (0-4095)"},
        {"negative errno", with_rule(R"({"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":-1})"),
         "p.json: syscalls[0].errnoRet: expected an unsigned integer, got -1"},
        {"errno on allow rule", with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":1})"),
         "p.json: syscalls[0].errnoRet: only SCMP_ACT_ERRNO"},
        {"index out of range",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]})"),
         "p.json: syscalls[0].args[0].index: 6 is out of range (0-5)"},
        {"index a string",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":"0","op":"SCMP_CMP_EQ"}]})"),
         "p.json: syscalls[0].args[0].index: expected an unsigned integer, got string"},
        {"unknown op",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]})"),
         "p.json: syscalls[0].args[0].op: unknown operator \"SCMP_CMP_LIKE\""},
        {"value a float",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1.5,"op":"SCMP_CMP_EQ"}]})"),
         "p.json: syscalls[0].args[0].value: expected an unsigned integer, got 1.5"},
        {"value too large",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]})"),
         "p.json: syscalls[0].args[0].value: expected an unsigned integer"},
        {"unknown capability",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMN"]}})"),
         "p.json: syscalls[0].excludes.caps[0]: unknown capability \"CAP_SYS_ADMN\""},
        {"unknown condition arch",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["x86_64"]}})"),
         "p.json: syscalls[0].includes.arches[0]: unknown architecture \"x86_64\""},
        {"bad kernel version",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8.1"}})"),
         "p.json: syscalls[0].includes.minKernel: \"4.8.1\" is not a kernel version"},
        {"unknown condition key",
         with_rule(R"({"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"capabilities":[]}})"),
         "p.json: syscalls[0].includes: unknown key \"capabilities\""},
        {"too deep", std::string(100, '[') + std::string(100, ']'), "p.json: nested deeper than a profile can be"},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        std::string message = error_of(c.json);
        CHECK_THAT(message, Catch::Contains(c.expected));
        CHECK(message.starts_with("seccomp profile p.json: "));
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("a profile file larger than 4 MiB is refused without reading it all", "[runtime][seccomp]") {
    kiln::TempDir dir("/tmp", "kiln-seccomp-test-");
    std::string path = dir.path() + "/huge.json";
    std::string huge = R"({"defaultAction":"SCMP_ACT_ERRNO","listenerMetadata":")" +
                       std::string(seccomp_profile_max_size, 'x') + "\"}";
    kiln::atomic_write(path, huge);
    CHECK_THROWS_WITH(load_seccomp_profile(path), Catch::Contains("seccomp profile " + path + ": larger than 4 MiB"));
    CHECK_THROWS_WITH(parse_seccomp_profile(huge, "h.json"), Catch::Contains("h.json: larger than 4 MiB"));
    CHECK_THROWS_WITH(load_seccomp_profile("/dev/zero"), Catch::Contains("larger than 4 MiB"));
    CHECK_THROWS_WITH(load_seccomp_profile(dir.path() + "/absent.json"),
                      Catch::Contains("seccomp profile " + dir.path() + "/absent.json"));

    kiln::atomic_write(path, R"({"defaultAction":"SCMP_ACT_ALLOW"})");
    CHECK(load_seccomp_profile(path).default_action == SeccompAction::allow);
}
