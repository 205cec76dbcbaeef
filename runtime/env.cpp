#include "runtime/env.hpp"

namespace kiln::runtime {

const char* env_lookup(const std::vector<std::string>& env, std::string_view key) {
    const char* found = nullptr;
    for (const auto& kv : env)
        if (kv.size() > key.size() && kv[key.size()] == '=' && std::string_view(kv).starts_with(key))
            found = kv.c_str() + key.size() + 1;
    return found;
}

std::vector<std::string> default_env(const std::vector<std::string>& env, const std::string& hostname) {
    std::vector<std::string> out;
    if (!env_lookup(env, "PATH")) out.push_back("PATH=" + std::string(default_path));
    if (!env_lookup(env, "HOSTNAME") && !hostname.empty()) out.push_back("HOSTNAME=" + hostname);
    out.insert(out.end(), env.begin(), env.end());
    return out;
}

}  // namespace kiln::runtime
