#include <catch2/catch.hpp>

#include <linux/capability.h>

#include "runtime/capabilities.hpp"

TEST_CASE("Docker's default capability set is 0xa80425fb", "[runtime][capabilities]") {
    CHECK(kiln::runtime::docker_default_capabilities() == 0xa80425fbULL);
}

TEST_CASE("capability_mask sets one bit per capability", "[runtime][capabilities]") {
    const int caps[] = {CAP_CHOWN, CAP_SYS_ADMIN, CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE};
    CHECK(kiln::runtime::capability_mask(caps) == ((1ULL << 0) | (1ULL << 21) | (1ULL << 40)));
    CHECK(kiln::runtime::capability_mask({}) == 0);
}

TEST_CASE("capability names are accepted with or without CAP_, in any case", "[runtime][capabilities]") {
    CHECK(kiln::runtime::capability_from_name("CAP_NET_ADMIN") == CAP_NET_ADMIN);
    CHECK(kiln::runtime::capability_from_name("net_admin") == CAP_NET_ADMIN);
    CHECK(kiln::runtime::capability_from_name("SYS_ADMIN") == CAP_SYS_ADMIN);
    CHECK(kiln::runtime::capability_from_name("cap_bpf") == CAP_BPF);
    CHECK_FALSE(kiln::runtime::capability_from_name("NOT_A_CAP"));
    CHECK_FALSE(kiln::runtime::capability_from_name(""));
}

TEST_CASE("the kernel's last capability is known", "[runtime][capabilities]") {
    CHECK(kiln::runtime::last_capability() >= CAP_AUDIT_READ);
}

TEST_CASE("--cap-add/--cap-drop names are normalized; unknown ones are errors", "[runtime][capabilities]") {
    using kiln::runtime::normalize_capability;
    CHECK(normalize_capability("net_admin", "--cap-add") == "CAP_NET_ADMIN");
    CHECK(normalize_capability("Cap_Chown", "--cap-drop") == "CAP_CHOWN");
    CHECK(normalize_capability("all", "--cap-add") == "ALL");
    CHECK_THROWS_WITH(normalize_capability("bogus", "--cap-add"), "invalid --cap-add: unknown capability: \"CAP_BOGUS\"");
}

TEST_CASE("capabilities are tweaked as Docker's TweakCapabilities, within what is available", "[runtime][capabilities]") {
    using kiln::runtime::tweak_capabilities;
    const auto base = kiln::runtime::docker_default_capabilities();
    const kiln::runtime::CapMask available = ~(1ULL << CAP_SYS_RESOURCE) & ((1ULL << 41) - 1);
    CHECK(tweak_capabilities(base, {}, {"CAP_CHOWN"}, available) == (base & ~1ULL));
    CHECK(tweak_capabilities(base, {"CAP_NET_ADMIN"}, {}, available) == (base | (1ULL << CAP_NET_ADMIN)));
    CHECK(tweak_capabilities(base, {"ALL"}, {"CAP_KILL"}, available) == (available & ~(1ULL << CAP_KILL)));
    CHECK(tweak_capabilities(base, {"CAP_KILL"}, {"ALL"}, available) == (1ULL << CAP_KILL));
    // What kiln does not hold cannot be added.
    CHECK(tweak_capabilities(base, {"CAP_SYS_RESOURCE"}, {}, available) == base);
}
