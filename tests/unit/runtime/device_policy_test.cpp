#include <catch2/catch.hpp>

#include "runtime/device_policy.hpp"
#include "util/error.hpp"

using kiln::runtime::DevicePolicy;
using kiln::runtime::DeviceRule;
using kiln::runtime::DeviceType;
using namespace kiln::runtime;

TEST_CASE("Docker's default device list, as the devices cgroup spells it", "[runtime][devices]") {
    std::vector<std::string> lines;
    for (const auto& rule : DevicePolicy::docker_default().rules) lines.push_back(rule.str());
    CHECK(lines == std::vector<std::string>{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                                            "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
                                            "c 136:* rwm", "c 10:200 rwm"});
}

TEST_CASE("the default policy allows mknod of anything but opens only harmless devices", "[runtime][devices]") {
    const auto policy = DevicePolicy::docker_default();
    CHECK(policy.allows(DeviceType::block, 7, 0, device_mknod));
    CHECK(policy.allows(DeviceType::character, 1, 11, device_mknod));
    CHECK_FALSE(policy.allows(DeviceType::block, 7, 0, device_read));
    CHECK_FALSE(policy.allows(DeviceType::block, 8, 0, device_read | device_write));
    CHECK_FALSE(policy.allows(DeviceType::character, 1, 11, device_read));  // /dev/kmsg
    CHECK_FALSE(policy.allows(DeviceType::character, 1, 1, device_read));   // /dev/mem
    CHECK_FALSE(policy.allows(DeviceType::character, 4, 1, device_write));  // tty1
    CHECK_FALSE(policy.allows(DeviceType::block, 1, 3, device_read));       // a block 1:3 is not null
    CHECK(policy.allows(DeviceType::character, 1, 3, device_read | device_write));
    CHECK(policy.allows(DeviceType::character, 136, 42, device_read | device_write));
    CHECK(policy.allows(DeviceType::character, 10, 200, device_read | device_write));
    CHECK_FALSE(policy.allows(DeviceType::character, 10, 229, device_read));  // fuse
}

TEST_CASE("a later rule overrides an earlier one and deny rules refuse any overlap", "[runtime][devices]") {
    auto policy = DevicePolicy::docker_default();
    policy.add("b 7:0 rw");
    CHECK(policy.allows(DeviceType::block, 7, 0, device_read | device_write));
    CHECK_FALSE(policy.allows(DeviceType::block, 7, 1, device_read));
    DeviceRule deny{DeviceType::character, 1, 3, device_write, false};
    policy.rules.push_back(deny);
    CHECK(policy.allows(DeviceType::character, 1, 3, device_read));
    CHECK_FALSE(policy.allows(DeviceType::character, 1, 3, device_read | device_write));
    CHECK(DevicePolicy::allow_all().allows(DeviceType::block, 8, 0, device_read | device_write));
}

TEST_CASE("device cgroup rules parse like --device-cgroup-rule", "[runtime][devices]") {
    DevicePolicy policy;
    policy.add("c 10:200 rwm");
    policy.add("b *:* m");
    policy.add("a");
    policy.add("c 4:* rw");
    REQUIRE(policy.rules.size() == 4);
    CHECK(policy.rules[0] == DeviceRule{DeviceType::character, 10, 200, device_rwm});
    CHECK(policy.rules[1] == DeviceRule{DeviceType::block, DeviceRule::any, DeviceRule::any, device_mknod});
    CHECK(policy.rules[2] == DeviceRule{});
    CHECK(policy.rules[3].str() == "c 4:* rw");
    for (const char* bad : {"", "x 1:3 rwm", "c 1:3", "c 1 rwm", "c a:3 rwm", "c 1:3 rwx", "c 1:3 rr", "c -1:3 r",
                            "b", "c1:3 r"})
        CHECK_THROWS_AS(policy.add(bad), kiln::Error);
}
