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

// An exclusive flock on `path` (made if missing); -1 when it cannot be had.
int lock_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -1;
    while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    return fd;
}

int lock_dir(const std::string& dir) {
    ::mkdir(dir.c_str(), 0755);
    return lock_file(dir + "/.lock");
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

// Adds (or with add false, drops) members_dir in the runtime dir's peer-networks list.
// The caller holds the runtime dir's hosts lock.
bool update_peer_networks(const std::string& runtime_dir, const std::string& members_dir, bool add) {
    const std::string path = runtime_dir + "/" + peer_networks_file;
    std::string text, kept;
    read_text(path, text);
    for (const auto& line : lines_of(text))
        if (line != members_dir) kept += line + "\n";
    if (add) kept += members_dir + "\n";
    return write_text(path, kept, O_CREAT);
}

// Rewrites one member's hosts from the members of every network it is on; false when it
// could not be written. With changed_dir, first adds (or drops) it in the member's list.
bool rewrite(const std::string& runtime_dir, const std::string& self_id, const std::string* changed_dir = nullptr,
             bool add = true) {
    int lock = lock_file(runtime_dir + "/" + hosts_lock_file);
    if (lock < 0) return false;
    bool ok = true;
    std::string base, networks;
    if (read_text(runtime_dir + "/" + hosts_base_file, base)) {  // else gone meanwhile
        if (changed_dir) ok = update_peer_networks(runtime_dir, *changed_dir, add);
        read_text(runtime_dir + "/" + peer_networks_file, networks);
        std::string listing;
        for (const auto& dir : lines_of(networks))
            for (const auto& m : read_members(dir)) listing += m.id + "\t" + m.line + "\n";
        // No O_CREAT: a member whose runtime dir went is not given a new file.
        ok = write_text(runtime_dir + "/hosts", peer_hosts_text(base, self_id, listing), 0) && ok;
    }
    ::close(lock);
    return ok;
}

// Every member's hosts rewritten; false if one could not be.
bool refresh(const std::string& dir, const std::string& except_id = {}) {
    bool ok = true;
    for (const auto& m : read_members(dir))
        if (m.id != except_id) ok = rewrite(m.runtime_dir, m.id) && ok;
    return ok;
}

}  // namespace

std::string peer_hosts_text(const std::string& base, const std::string& self_id, const std::string& members) {
    std::string text = base;
    if (!text.empty() && text.back() != '\n') text += '\n';
    std::vector<std::string> added;
    for (const auto& line : lines_of(members)) {
        auto tab = line.find('\t');
        if (tab == std::string::npos || line.substr(0, tab) == self_id) continue;
        std::string entry = line.substr(tab + 1);
        if (std::find(added.begin(), added.end(), entry) != added.end()) continue;
        added.push_back(entry);
        text += entry + "\n";
    }
    return text;
}

bool join_peer_hosts(const std::string& members_dir, const std::string& container_id, const std::string& runtime_dir,
                     const std::string& hosts_line) {
    int lock = lock_dir(members_dir);
    if (lock < 0) return false;
    bool ok = write_text(members_dir + "/" + container_id, runtime_dir + "\n" + hosts_line + "\n", O_CREAT) &&
              rewrite(runtime_dir, container_id, &members_dir, true);
    ok = refresh(members_dir, container_id) && ok;
    ::close(lock);
    return ok;
}

void leave_peer_hosts(const std::string& members_dir, const std::string& container_id) {
    int lock = lock_dir(members_dir);
    if (lock < 0) return;
    std::string text;
    const std::string member = members_dir + "/" + container_id;
    if (read_text(member, text) && ::unlink(member.c_str()) == 0) {
        const std::string runtime_dir = text.substr(0, text.find('\n'));
        rewrite(runtime_dir, container_id, &members_dir, false);
        refresh(members_dir);
    }
    ::close(lock);
}

}  // namespace kiln::netlink
