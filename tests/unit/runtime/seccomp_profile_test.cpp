#include <catch2/catch.hpp>

#include <linux/capability.h>

#include <algorithm>
#include <string>

#include "runtime/seccomp_json.hpp"
#include "runtime/seccomp_profile.hpp"
#include "util/fs.hpp"

using namespace kiln::runtime;

namespace {

const std::string conformance_profile = KILN_CONFORMANCE_DIR "/seccomp/default.json";

std::string names_missing_from(const std::vector<std::string>& from, const std::vector<std::string>& names) {
    std::string missing;
    for (const auto& n : names)
        if (std::find(from.begin(), from.end(), n) == from.end()) missing += " " + n;
    return missing;
}

}  // namespace

// The built-in table is typed by hand; Docker's own file is what keeps it honest.
TEST_CASE("the built-in profile equals Docker's default.json group for group", "[runtime][seccomp]") {
    if (!kiln::path_exists(conformance_profile)) {
        WARN("skipped: conformance data absent at " << conformance_profile);
        return;
    }
    const SeccompProfile docker = parse_seccomp_profile(kiln::read_file(conformance_profile), conformance_profile);
    const SeccompProfile& builtin = docker_default_seccomp_profile();
    CHECK(builtin.default_action == docker.default_action);
    CHECK(builtin.default_errno_ret == docker.default_errno_ret);
    CHECK(builtin.architectures == docker.architectures);
    CHECK(builtin.arch_map == docker.arch_map);
    REQUIRE(builtin.syscalls.size() == docker.syscalls.size());
    for (std::size_t i = 0; i < docker.syscalls.size(); ++i) {
        const auto& want = docker.syscalls[i];
        const auto& got = builtin.syscalls[i];
        INFO("group " << i << " (" << want.names.front() << " ...)");
        INFO("missing from the table:" << names_missing_from(got.names, want.names));
        INFO("not in Docker's file:" << names_missing_from(want.names, got.names));
        CHECK(got.names == want.names);
        CHECK(got.action == want.action);
        CHECK(got.errno_ret == want.errno_ret);
        CHECK(got.args == want.args);
        CHECK(got.includes == want.includes);
        CHECK(got.excludes == want.excludes);
    }
    CHECK(builtin == docker);
}

TEST_CASE("the built-in profile is an allow-list with Docker's guarded groups", "[runtime][seccomp]") {
    const SeccompProfile& p = docker_default_seccomp_profile();
    CHECK(p.default_action == SeccompAction::errno_return);
    CHECK(p.default_errno_ret == 1u);
    auto groups_naming = [&](const std::string& name) {
        std::vector<const SeccompRule*> out;
        for (const auto& r : p.syscalls)
            if (std::find(r.names.begin(), r.names.end(), name) != r.names.end()) out.push_back(&r);
        return out;
    };
    // Allowed only with a capability the default set lacks.
    for (const char* name : {"pidfd_getfd", "process_madvise", "set_mempolicy", "unshare", "mount", "setns"}) {
        INFO(name);
        auto groups = groups_naming(name);
        REQUIRE_FALSE(groups.empty());
        for (const auto* g : groups) CHECK((g->includes.caps & ~docker_default_capabilities()) != 0);
    }
    auto clone3 = groups_naming("clone3");
    REQUIRE(clone3.size() == 2);
    CHECK(clone3[1]->action == SeccompAction::errno_return);
    CHECK(clone3[1]->errno_ret == 38u);
    CHECK(clone3[1]->excludes.caps == (CapMask{1} << CAP_SYS_ADMIN));
    CHECK(groups_naming("personality").size() == 5);
    CHECK(groups_naming("socket").size() == 3);
}

TEST_CASE("architecture names map between libseccomp's and Docker's spelling", "[runtime][seccomp]") {
    CHECK(docker_arch_name("SCMP_ARCH_X86_64") == "amd64");
    CHECK(docker_arch_name("SCMP_ARCH_AARCH64") == "arm64");
    CHECK(docker_arch_name("SCMP_ARCH_X32") == "x32");
    CHECK_FALSE(docker_arch_name("amd64"));
    CHECK(is_docker_arch_name("s390x"));
    CHECK_FALSE(is_docker_arch_name("SCMP_ARCH_X86"));
}
