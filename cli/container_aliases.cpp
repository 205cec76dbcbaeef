#include "cli/container_aliases.hpp"

#include <algorithm>

namespace kiln::cli {

const std::vector<std::string>& container_alias_verbs() {
    static const std::vector<std::string> verbs = {
        "attach", "commit", "cp",      "create", "diff",  "exec",    "export", "kill",  "list",
        "logs",   "ls",     "pause",   "port",   "ps",    "rename",  "restart", "rm",   "run",
        "start",  "stats",  "stop",    "top",    "unpause", "wait"};
    return verbs;
}

std::string container_alias_help() {
    std::string verbs;
    for (const auto& verb : container_alias_verbs()) verbs += (verbs.empty() ? "" : "|") + verb;
    return "Also kiln container " + verbs + ": the same command as kiln VERB (ls and list: kiln ps)";
}

std::vector<std::string> resolve_container_alias(std::vector<std::string> args) {
    // kiln's global options that take a value as the next word (main.cpp).
    auto takes_value = [](const std::string& arg) { return arg == "--root" || arg == "--config"; };
    std::size_t i = 0;
    while (i < args.size() && args[i].starts_with('-')) i += takes_value(args[i]) ? 2 : 1;
    if (i + 1 >= args.size() || args[i] != "container") return args;
    const auto& verbs = container_alias_verbs();
    std::string verb = args[i + 1];
    if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end()) return args;
    if (verb == "ls" || verb == "list") verb = "ps";
    args[i + 1] = verb;
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    return args;
}

}  // namespace kiln::cli
