#include "runtime/monitor/oom_count.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace kiln::runtime {

namespace {

// The value of "KEY N" lines in a small control file; 0 if absent.
std::int64_t keyed_value(const std::string& path, std::string_view key) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    std::string_view text(buf, static_cast<std::size_t>(n));
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ')
            return std::strtoll(buf + pos + key.size() + 1, nullptr, 10);
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return 0;
}

}  // namespace

std::int64_t cgroup_oom_kills(const std::string& dir) {
    return keyed_value(dir + "/memory.events", "oom_kill") + keyed_value(dir + "/memory.oom_control", "oom_kill");
}

}  // namespace kiln::runtime
