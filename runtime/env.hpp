#pragma once
// The container's environment, defaulted the way Docker does.
#include <string>
#include <string_view>
#include <vector>

namespace kiln::runtime {

inline constexpr std::string_view default_path =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The value of `key` in a "K=V" list (the last one wins, as for execve), or nullptr if
// absent. Allocation free.
const char* env_lookup(const std::vector<std::string>& env, std::string_view key);

// Returns env with PATH (default_path) and HOSTNAME added when absent. HOME depends on the
// user, which is resolved inside the container, so it is added there.
std::vector<std::string> default_env(const std::vector<std::string>& env, const std::string& hostname);

}  // namespace kiln::runtime
