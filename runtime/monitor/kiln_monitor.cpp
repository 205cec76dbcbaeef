// kiln-monitor: the parent of one detached container (DESIGN "Process model"). The kiln
// process that cloned the container execs this program in place, so the container stays
// its child and its descriptors come along by inheritance, while kiln's heap does not.
// It writes the container's output to the json-file log, reaps it, records its exit
// status (and whether the OOM killer struck) beside the log, removes its cgroups and runtime dir, and exits. The runtime
// dir's lock, held until then, tells any kiln process that the container still runs.
//
// With a restart policy (--restart) it decides, as Docker's restart manager, whether the
// container runs again: if so it keeps the runtime dir and its lock (the container still
// "runs", as Docker's Restarting does), marks the dir "restarting", waits the backoff and
// execs `kiln container-restart` in its own place, which starts the container again and
// execs the next monitor: the lock passes on without a gap. A "no-restart" marker in the
// runtime dir (written by `kiln stop`) ends that at any point.
//
// It serves `kiln attach` on a socket in the container's folder (attach_server.hpp): the
// output goes to attached clients as well as the log, their input to the container's
// stdin pipe or pty master. With --rm it execs `kiln container-cleanup` last, which
// removes the container as `kiln rm` does.
//
//   kiln-monitor pid=P pidfd=N out=N [err=N] lock=N report=N log=PATH exit=PATH [oom=PATH]
//                rundir=PATH [cgroup=DIR]... [listen=N attach=DIR in=N tty=1 once=1]
//                [restart=POLICY max=N count=N delay=MS] [rm=1] [kiln=PATH root=DIR id=ID]
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/monitor/attach_server.hpp"
#include "runtime/netlink/release.hpp"
#include "runtime/monitor/json_log.hpp"
#include "runtime/monitor/oom_count.hpp"
#include "runtime/monitor/restart_rules.hpp"

namespace {

struct Arguments {
    pid_t pid = -1;
    int pidfd = -1, out = -1, err = -1, lock = -1, report = -1, in = -1, listener = -1;
    std::string log, exit, oom, rundir, attach_dir;
    bool tty = false, stdin_once = false, auto_remove = false;
    std::vector<std::string> cgroups;
    std::string restart = "no", kiln, root, id;
    int max_retries = 0, restarts = 0;
    long long delay_ms = 0;
};

bool parse(int argc, char** argv, Arguments& a) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto eq = arg.find('=');
        if (eq == std::string_view::npos) return false;
        std::string_view key = arg.substr(0, eq);
        std::string value(arg.substr(eq + 1));
        auto number = [&] { return std::atoi(value.c_str()); };
        if (key == "pid") a.pid = number();
        else if (key == "pidfd") a.pidfd = number();
        else if (key == "out") a.out = number();
        else if (key == "err") a.err = number();
        else if (key == "lock") a.lock = number();
        else if (key == "report") a.report = number();
        else if (key == "log") a.log = value;
        else if (key == "exit") a.exit = value;
        else if (key == "oom") a.oom = value;
        else if (key == "rundir") a.rundir = value;
        else if (key == "attach") a.attach_dir = value;
        else if (key == "listen") a.listener = number();
        else if (key == "in") a.in = number();
        else if (key == "tty") a.tty = number() != 0;
        else if (key == "once") a.stdin_once = number() != 0;
        else if (key == "rm") a.auto_remove = number() != 0;
        else if (key == "cgroup") a.cgroups.push_back(value);
        else if (key == "restart") a.restart = value;
        else if (key == "max") a.max_retries = number();
        else if (key == "count") a.restarts = number();
        else if (key == "delay") a.delay_ms = std::atoll(value.c_str());
        else if (key == "kiln") a.kiln = value;
        else if (key == "root") a.root = value;
        else if (key == "id") a.id = value;
        else return false;
    }
    return a.pid > 0 && a.out >= 0 && !a.log.empty() && !a.exit.empty();
}

std::int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void write_fully(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a full disk loses log lines, never the container
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Copies both output streams into the log and to attached clients until every writer has
// closed them, serving the clients meanwhile.
void copy_output(const Arguments& a, int log_fd, kiln::runtime::AttachServer& clients) {
    struct Stream {
        int fd;
        const char* name;
        kiln::runtime::LogLineSplitter lines;
    } streams[2] = {{a.out, "stdout", {}}, {a.err, "stderr", {}}};
    static char buf[65536];
    std::string entries;
    std::vector<pollfd> fds;
    while (streams[0].fd >= 0 || streams[1].fd >= 0) {
        fds = {{streams[0].fd, POLLIN, 0}, {streams[1].fd, POLLIN, 0}};
        clients.add_poll_entries(fds);
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; ++i) {
            if (!fds[i].revents) continue;
            Stream& s = streams[i];
            ssize_t n = ::read(s.fd, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            // EOF, or EIO from a pty master once the last slave holder is gone.
            if (n <= 0) {
                s.lines.finish(s.name, now_ns(), entries);
                ::close(s.fd);
                s.fd = -1;
            } else {
                std::string_view data(buf, static_cast<std::size_t>(n));
                s.lines.feed(data, s.name, now_ns(), entries);
                clients.broadcast(i == 0 ? kiln::runtime::attach::Frame::stdout_data
                                         : kiln::runtime::attach::Frame::stderr_data,
                                  data);
            }
        }
        clients.handle(fds, 2);
        write_fully(log_fd, entries);
        entries.clear();
    }
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 125;
}

// "<exit code> <finished at, unix ns>\n", renamed into place so readers see all or nothing.
void record_exit(const std::string& path, int code) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    write_fully(fd, std::to_string(code) + " " + std::to_string(now_ns()) + "\n");
    ::fsync(fd);
    ::close(fd);
    ::rename(tmp.c_str(), path.c_str());
}

// Docker's State.OOMKilled: read before the cgroups go, written before the exit record
// (which readers take as the end of the run).
void record_oom_kill(const Arguments& a) {
    if (a.oom.empty()) return;
    std::int64_t kills = 0;
    for (const auto& dir : a.cgroups) kills += kiln::runtime::cgroup_oom_kills(dir);
    if (kills == 0) return;
    int fd = ::open(a.oom.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
}

// The runtime dir holds only files and empty directories (the rootfs mountpoint: the
// mount itself lived in the container's namespace).
void remove_runtime_dir(const std::string& dir) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    for (const char* name : {"hostname", "hosts", "hosts.base", "hosts.lock", "peer-networks", "resolv.conf", "no-restart", "restarting", "ports"}) ::unlinkat(dfd, name, 0);
    ::unlinkat(dfd, "rootfs", AT_REMOVEDIR);
    ::close(dfd);
    ::rmdir(dir.c_str());
}

void remove_cgroups(const std::vector<std::string>& dirs) {
    for (const auto& dir : dirs) {
        // A cgroup can read as populated for a moment after its last task was reaped.
        for (int tries = 0; ::rmdir(dir.c_str()) != 0 && errno == EBUSY && tries < 2000; ++tries) {
            timespec pause{0, 1000000};
            ::nanosleep(&pause, nullptr);
        }
    }
}

bool stop_requested(const Arguments& a) { return ::access((a.rundir + "/no-restart").c_str(), F_OK) == 0; }

// Waits ms milliseconds, or less if `kiln stop` asks meanwhile. True if it did not.
bool wait_for_restart(const Arguments& a, long long ms) {
    for (long long waited = 0; waited < ms; waited += 10) {
        if (stop_requested(a)) return false;
        timespec pause{0, 10 * 1000000};
        ::nanosleep(&pause, nullptr);
    }
    return !stop_requested(a);
}

// Runs `kiln container-restart` in this process's place; returns if that fails.
void exec_restart(const Arguments& a, int code, std::int64_t finished_ns, long long delay_ms) {
    // What `ps` and `inspect` show meanwhile (Docker's Restarting).
    std::string marker = a.rundir + "/restarting";
    int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    write_fully(fd, std::to_string(code) + " " + std::to_string(finished_ns) + "\n");
    ::close(fd);
    if (!wait_for_restart(a, delay_ms)) return;
    std::string count = std::to_string(a.restarts + 1), delay = std::to_string(delay_ms), lock = std::to_string(a.lock);
    const char* argv[] = {a.kiln.c_str(), "--root", a.root.c_str(), "container-restart", a.id.c_str(),
                          count.c_str(), delay.c_str(), lock.c_str(), nullptr};
    ::fcntl(a.lock, F_SETFD, 0);
    ::execv(argv[0], const_cast<char**>(argv));
    ::fcntl(a.lock, F_SETFD, FD_CLOEXEC);
}

// docker run --rm: `kiln container-cleanup` in this process's place removes the container
// with rm's own code, once the runtime dir (and its lock) is gone.
void exec_cleanup(const Arguments& a) {
    const char* argv[] = {a.kiln.c_str(), "--root", a.root.c_str(), "container-cleanup", a.id.c_str(), nullptr};
    ::execv(argv[0], const_cast<char**>(argv));
}

}  // namespace

int main(int argc, char** argv) {
    Arguments a;
    if (!parse(argc, argv, a)) {
        std::fprintf(stderr, "kiln-monitor: started by kiln only\n");
        return 2;
    }
    for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGTSTP, SIGTTIN, SIGTTOU}) ::signal(sig, SIG_IGN);
    for (int fd : {a.pidfd, a.out, a.err, a.lock, a.in})
        if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    int log_fd = ::open(a.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (a.report >= 0) {
        write_fully(a.report, log_fd >= 0 ? "ok " + std::to_string(a.pid) + "\n" : std::string("cannot open the container log\n"));
        ::close(a.report);
    }
    // Nothing of the caller's: stdio goes to /dev/null once the report is sent.
    int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3 && null_fd >= 0; ++fd) ::dup2(null_fd, fd);
    const std::int64_t started_ns = now_ns();
    // A restart that `kiln stop` asked to end while it was being started.
    if (log_fd < 0 || (a.restart != "no" && stop_requested(a))) ::kill(a.pid, SIGKILL);
    kiln::runtime::AttachServer clients(a.listener, a.attach_dir, {a.in, a.tty ? a.out : -1, a.stdin_once, a.pidfd});
    if (log_fd >= 0) copy_output(a, log_fd, clients);
    int status = 0;
    while (::waitpid(a.pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = decode_status(status);
    const std::int64_t finished_ns = now_ns();
    // Before the exit record, so whoever sees the container exited finds its address free.
    if (!a.rundir.empty()) kiln::netlink::release_attachment(a.rundir);
    record_oom_kill(a);
    record_exit(a.exit, code);
    remove_cgroups(a.cgroups);
    clients.finish(code);
    if (log_fd >= 0) ::close(log_fd);
    if (a.pidfd >= 0) ::close(a.pidfd);
    if (!a.rundir.empty() && !a.kiln.empty() && !stop_requested(a) &&
        kiln::runtime::should_restart(a.restart, a.max_retries, a.restarts, code))
        exec_restart(a, code, finished_ns, kiln::runtime::next_restart_delay_ms(a.delay_ms, finished_ns - started_ns));
    if (!a.rundir.empty()) remove_runtime_dir(a.rundir);
    if (a.auto_remove && !a.kiln.empty()) exec_cleanup(a);
    return 0;  // the runtime dir's lock goes with this process
}
