#include "runtime/netlink/peer_hosts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <vector>

namespace kiln::netlink {

namespace {

struct Member {
    std::string id, runtime_dir, line;
};

bool read_text(const std::string& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out.clear();
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return n == 0;
}

bool write_text(const std::string& path, const std::string& text, int flags) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | flags, 0644);
    if (fd < 0) return false;
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    bool ok = done == text.size() && ::ftruncate(fd, static_cast<off_t>(text.size())) == 0;
    ::close(fd);
    return ok;
}

std::vector<Member> read_members(const std::string& dir) {
    std::vector<Member> members;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return members;
    while (auto* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::string text;
        if (!read_text(dir + "/" + e->d_name, text)) continue;
        auto newline = text.find('\n');
        if (newline == std::string::npos) continue;
        std::string line = text.substr(newline + 1);
        while (!line.empty() && line.back() == '\n') line.pop_back();
        members.push_back({e->d_name, text.substr(0, newline), line});
    }
    ::closedir(d);
    std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
    return members;
}

int lock_dir(const std::string& dir) {
    ::mkdir(dir.c_str(), 0755);
    int fd = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    return fd;
}

// Every member's hosts rewritten from the current members; false if one could not be.
bool refresh(const std::string& dir) {
    auto members = read_members(dir);
    std::string listing;
    for (const auto& m : members) listing += m.id + "\t" + m.line + "\n";
    bool ok = true;
    for (const auto& m : members) {
        std::string base;
        if (!read_text(m.runtime_dir + "/" + hosts_base_file, base)) continue;  // gone meanwhile
        // No O_CREAT: a member whose runtime dir went is not given a new file.
        ok = write_text(m.runtime_dir + "/hosts", peer_hosts_text(base, m.id, listing), 0) && ok;
    }
    return ok;
}

}  // namespace

std::string peer_hosts_text(const std::string& base, const std::string& self_id, const std::string& members) {
    std::string text = base;
    if (!text.empty() && text.back() != '\n') text += '\n';
    std::istringstream lines(members);
    std::string line;
    while (std::getline(lines, line)) {
        auto tab = line.find('\t');
        if (tab == std::string::npos || line.substr(0, tab) == self_id) continue;
        text += line.substr(tab + 1) + "\n";
    }
    return text;
}

bool join_peer_hosts(const std::string& members_dir, const std::string& container_id, const std::string& runtime_dir,
                     const std::string& hosts_line) {
    int lock = lock_dir(members_dir);
    if (lock < 0) return false;
    bool ok = write_text(members_dir + "/" + container_id, runtime_dir + "\n" + hosts_line + "\n", O_CREAT) &&
              refresh(members_dir);
    ::close(lock);
    return ok;
}

void leave_peer_hosts(const std::string& members_dir, const std::string& container_id) {
    int lock = lock_dir(members_dir);
    if (lock < 0) return;
    if (::unlink((members_dir + "/" + container_id).c_str()) == 0) refresh(members_dir);
    ::close(lock);
}

}  // namespace kiln::netlink
