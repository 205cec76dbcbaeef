#include "runtime/restart_policy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

RestartPolicy parse_restart_policy(const std::string& text) {
    RestartPolicy p;
    if (text.empty()) return p;
    auto colon = text.find(':');
    if (colon == 0) throw Error("invalid restart policy format: no policy provided before colon");
    p.name = text.substr(0, colon);
    if (colon != std::string::npos && colon + 1 < text.size()) {
        std::string_view count = std::string_view(text).substr(colon + 1);
        auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), p.max_retries, 10);
        if (ec != std::errc() || end != count.data() + count.size())
            throw Error("invalid restart policy format: maximum retry count must be an integer");
    }
    if (p.name != "no" && p.name != "always" && p.name != "unless-stopped" && p.name != "on-failure")
        throw Error("invalid restart policy: unknown policy '" + p.name +
                    "'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
    if (p.max_retries < 0) throw Error("invalid restart policy: maximum retry count cannot be negative");
    if (p.max_retries != 0 && p.name != "on-failure")
        throw Error("invalid restart policy: maximum retry count can only be used with 'on-failure'");
    return p;
}

std::string no_restart_marker(const std::string& id) { return runtime_dirs_parent() + "/" + id + "/no-restart"; }
std::string restarting_marker(const std::string& id) { return runtime_dirs_parent() + "/" + id + "/restarting"; }

void forbid_restart(const std::string& id) {
    if (!runtime_dir_locked(id)) return;
    UniqueFd fd(::open(no_restart_marker(id).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    // Gone meanwhile: the container has stopped for good already.
}

std::optional<RestartWait> container_restarting(const std::string& id) {
    std::string text;
    try {
        text = read_file(restarting_marker(id));
    } catch (const Error&) {
        return std::nullopt;
    }
    RestartWait wait;
    char* end = nullptr;
    wait.exit_code = static_cast<int>(std::strtol(text.c_str(), &end, 10));
    wait.finished_ns = std::strtoll(end, nullptr, 10);
    return wait;
}

}  // namespace kiln::runtime
