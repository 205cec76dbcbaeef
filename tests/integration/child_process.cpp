#include "child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <thread>
#include <utility>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::test {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
    if (argv.empty()) throw Error("ChildProcess: empty argv");
    // Everything the child needs is prepared before fork: after it, only async-signal-safe
    // calls (the test process may have threads).
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!null || !log) throw_errno("open " + log_path);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        // Dies with the test, so a crashed test leaves no server behind.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::setpgid(0, 0);  // a terminal's ^C goes to the test only; it stops us itself
        ::dup2(null.get(), 0);
        ::dup2(log.get(), 1);
        ::dup2(log.get(), 2);
        ::close_range(3, ~0U, 0);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    pid_ = pid;
}

ChildProcess::~ChildProcess() { stop(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        stop();
        pid_ = std::exchange(other.pid_, -1);
    }
    return *this;
}

bool ChildProcess::running() {
    if (pid_ < 0) return false;
    int status;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
        pid_ = -1;
        return false;
    }
    return true;
}

bool ChildProcess::wait_exit(int ms) {
    for (int waited = 0;; waited += 10) {
        if (!running()) return true;
        if (waited >= ms) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void ChildProcess::stop(int grace_ms) {
    if (pid_ < 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait_exit(grace_ms)) kill();
}

void ChildProcess::kill() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// The last few lines of a server's log, for an error message.
std::string log_tail(const std::string& log_path) {
    std::string text;
    try {
        text = read_file(log_path);
    } catch (const Error&) {
        return "(no log)";
    }
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    return text;
}

}  // namespace

int free_port() {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    sockaddr_in addr = loopback(0);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind 127.0.0.1:0");
    socklen_t len = sizeof addr;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) throw_errno("getsockname");
    return ntohs(addr.sin_port);
}

bool port_open(int port) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return false;
    sockaddr_in addr = loopback(port);
    return ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

void wait_for_port(ChildProcess& server, int port, const std::string& log_path, const std::string& what,
                   int ms) {
    for (int waited = 0;; waited += 20) {
        if (!server.running()) throw Error(what + " exited at start:\n" + log_tail(log_path));
        if (port_open(port)) return;
        if (waited >= ms) throw Error(what + " did not listen within " + std::to_string(ms) + " ms:\n" + log_tail(log_path));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

int wait_for_port_file(ChildProcess& server, const std::string& port_file, const std::string& log_path,
                       const std::string& what, int ms) {
    for (int waited = 0;; waited += 20) {
        if (!server.running()) throw Error(what + " exited at start:\n" + log_tail(log_path));
        if (path_exists(port_file)) {
            int port = std::stoi(read_file(port_file));
            wait_for_port(server, port, log_path, what, ms);
            return port;
        }
        if (waited >= ms) throw Error(what + " wrote no port within " + std::to_string(ms) + " ms:\n" + log_tail(log_path));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace kiln::test
