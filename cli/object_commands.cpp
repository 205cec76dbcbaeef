#include "cli/object_commands.hpp"

namespace kiln::cli {

std::map<std::string, std::string> key_value_pairs(const std::vector<std::string>& flags) {
    std::map<std::string, std::string> out;
    for (const auto& f : flags) {
        auto eq = f.find('=');
        out[f.substr(0, eq)] = eq == std::string::npos ? "" : f.substr(eq + 1);
    }
    return out;
}

bool labels_match(const std::map<std::string, std::string>& labels, const std::string& filter_value) {
    auto kv = filter_value.find('=');
    auto it = labels.find(filter_value.substr(0, kv));
    return it != labels.end() && (kv == std::string::npos || it->second == filter_value.substr(kv + 1));
}

std::string joined_labels(const std::map<std::string, std::string>& labels) {
    std::string out;
    for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
    return out;
}

}  // namespace kiln::cli
