#pragma once
// A background server process owned by a test (a registry, a token server, a proxy): it
// dies with the test process even if the test crashes, and is stopped and reaped when this
// object dies.
#include <sys/types.h>

#include <string>
#include <vector>

namespace kiln::test {

class ChildProcess {
public:
    ChildProcess() = default;
    // Starts argv (argv[0] an absolute path) with stdin /dev/null and stdout+stderr appended
    // to log_path; no other fd is inherited. The child gets SIGKILL if this process dies.
    ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
    ~ChildProcess();
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // True while the child runs (reaps it if it has exited).
    bool running();
    pid_t pid() const { return pid_; }
    // SIGTERM, up to grace_ms for it to exit, then SIGKILL; always reaped. No-op if gone.
    void stop(int grace_ms = 5000);
    // SIGKILL at once, reaped: a crash, as far as the child's clients can tell.
    void kill();

private:
    // Waits up to ms for the child to exit; true (and reaped) if it did.
    bool wait_exit(int ms);
    pid_t pid_ = -1;
};

// A port on 127.0.0.1 free right now (the kernel's pick; another process could take it
// before it is used, which callers that cannot bind port 0 themselves must tolerate).
int free_port();

// True when something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port);

// Waits up to ms for server (which binds 127.0.0.1:0 itself) to write its port to
// port_file, then for that port to accept connections. Throws kiln::Error with the tail of
// log_path if the server exits or the time runs out.
int wait_for_port_file(ChildProcess& server, const std::string& port_file, const std::string& log_path,
                       const std::string& what, int ms = 15000);

// Waits up to ms for 127.0.0.1:port to accept connections while server runs; same errors.
void wait_for_port(ChildProcess& server, int port, const std::string& log_path, const std::string& what,
                   int ms = 15000);

}  // namespace kiln::test
