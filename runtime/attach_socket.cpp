#include "runtime/attach_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "runtime/monitor/attach_protocol.hpp"
#include "util/error.hpp"

namespace kiln::runtime {

namespace {

sockaddr_un address_via(int dir_fd) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = attach::socket_path_via(dir_fd);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

UniqueFd open_attach_dir(const std::string& container_dir) {
    return UniqueFd(::open((container_dir + "/" + attach::socket_dir).c_str(),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

}  // namespace

UniqueFd listen_attach_socket(const std::string& container_dir) {
    const std::string dir = container_dir + "/" + attach::socket_dir;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("create " + dir);
    UniqueFd dir_fd = open_attach_dir(container_dir);
    if (!dir_fd) throw_errno("open " + dir);
    struct stat st{};
    if (::fstat(dir_fd.get(), &st) != 0 || st.st_uid != ::geteuid()) throw Error(dir + " is not kiln's own directory");
    if (::fchmod(dir_fd.get(), 0700) != 0) throw_errno("chmod " + dir);
    ::unlinkat(dir_fd.get(), attach::socket_name, 0);
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener) throw_errno("socket");
    sockaddr_un addr = address_via(dir_fd.get());
    const mode_t saved = ::umask(0177);  // born 0600: no window where it is wider
    const int bound = ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    ::umask(saved);
    if (bound != 0) throw_errno("bind " + dir + "/" + attach::socket_name);
    if (::listen(listener.get(), 16) != 0) throw_errno("listen " + dir + "/" + attach::socket_name);
    return listener;
}

UniqueFd connect_attach_socket(const std::string& container_dir) {
    UniqueFd dir_fd = open_attach_dir(container_dir);
    if (!dir_fd) return {};
    UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno("socket");
    sockaddr_un addr = address_via(dir_fd.get());
    if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return {};
    return sock;
}

}  // namespace kiln::runtime
