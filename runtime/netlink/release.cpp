#include "runtime/netlink/release.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <vector>

#include "runtime/netlink/netlink.hpp"
#include "runtime/netlink/peer_hosts.hpp"

namespace kiln::netlink {

int iptables_restore(const std::string& rules_file) {
    int in = ::open(rules_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in, 0);
        int null_fd = ::open("/dev/null", O_WRONLY);
        if (null_fd >= 0) ::dup2(null_fd, 1);
        const char* argv[] = {"iptables-restore", "-w", "--noflush", nullptr};
        ::execvp(argv[0], const_cast<char**>(argv));
        // A monitor's PATH may lack the sbin folders.
        ::execv("/usr/sbin/iptables-restore", const_cast<char**>(argv));
        ::execv("/sbin/iptables-restore", const_cast<char**>(argv));
        ::_exit(127);
    }
    ::close(in);
    if (pid < 0) return -1;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

// Removes the lease file unless the address has passed to another container meanwhile
// (a sweep runs after the owner's lock is gone, when an allocation may reuse it), under
// the allocator's lock.
void release_lease(const std::string& lease, const std::string& owner) {
    const std::string lock_path = lease.substr(0, lease.rfind('/') + 1) + lease_lock_file;
    int lock = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
    if (lock < 0) return;
    while (::flock(lock, LOCK_EX) != 0 && errno == EINTR) {
    }
    std::ifstream file(lease);
    std::string holder;
    if (file >> holder && holder == owner) ::unlink(lease.c_str());
    ::close(lock);
}

}  // namespace

void release_endpoint(const std::string& list, bool delete_veth) {
    std::ifstream in(list);
    if (!in) return;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string kind, value;
        fields >> kind >> value;
        if (kind == "undo") {
            iptables_restore(value);
            ::unlink(value.c_str());
        } else if (kind == "veth" && delete_veth) {
            try {
                Socket().delete_link(value);
            } catch (const std::system_error&) {
                // Gone with the container's namespace, or no netlink here: nothing to do.
            }
        } else if (kind == "member") {
            std::string id;
            fields >> id;
            leave_peer_hosts(value, id);
        } else if (kind == "lease") {
            std::string owner;
            fields >> owner;
            release_lease(value, owner);
        }
    }
    ::unlink(list.c_str());
}

std::vector<std::string> endpoint_lists(const std::string& runtime_dir) {
    std::vector<std::string> lists = {runtime_dir + "/" + attachment_file};
    if (DIR* d = ::opendir(runtime_dir.c_str())) {
        const std::string prefix = std::string(attachment_file) + ".";
        while (auto* e = ::readdir(d))
            if (std::string_view(e->d_name).starts_with(prefix)) lists.push_back(runtime_dir + "/" + e->d_name);
        ::closedir(d);
    }
    return lists;
}

void release_attachment(const std::string& runtime_dir, bool delete_veth) {
    for (const auto& list : endpoint_lists(runtime_dir)) release_endpoint(list, delete_veth);
}

}  // namespace kiln::netlink
