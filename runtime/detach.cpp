#include "runtime/detach.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

void keep_across_exec(int fd) {
    if (fd >= 0) ::fcntl(fd, F_SETFD, 0);
}

void write_text(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Starts the container and execs kiln-monitor in place, so the monitor is its parent.
// Returns the exec failure (126/127) when its command could not be run; throws otherwise.
int start_and_become_monitor(const ContainerSpec& spec, const DetachPaths& paths, int report_fd,
                             const std::function<void(pid_t)>& on_started) {
    auto container = start_container(spec);
    if (container->exec_failure()) return container->exec_failure();
    auto h = container->handover();
    std::vector<std::string> args = {paths.monitor_binary,
                                     "pid=" + std::to_string(h.pid),
                                     "pidfd=" + std::to_string(h.pidfd),
                                     "out=" + std::to_string(h.stdout_fd),
                                     "err=" + std::to_string(h.stderr_fd),
                                     "lock=" + std::to_string(h.lock_fd),
                                     "report=" + std::to_string(report_fd),
                                     "log=" + paths.log_file,
                                     "exit=" + paths.exit_file,
                                     "oom=" + paths.oom_file,
                                     "rundir=" + h.runtime_dir};
    for (const auto& dir : h.cgroup_dirs) args.push_back("cgroup=" + dir);
    if (paths.attach_listener >= 0) {
        args.push_back("listen=" + std::to_string(paths.attach_listener));
        args.push_back("attach=" + paths.attach_dir);
        if (spec.tty) args.push_back("tty=1");
        if (h.stdin_fd >= 0) args.push_back("in=" + std::to_string(h.stdin_fd));
        if (paths.stdin_once) args.push_back("once=1");
    }
    const auto& r = paths.restart;
    if (r.policy.name != "no") {
        for (std::string arg : {"restart=" + r.policy.name, "max=" + std::to_string(r.policy.max_retries),
                                "count=" + std::to_string(r.restarts), "delay=" + std::to_string(r.delay_ms)})
            args.push_back(arg);
    }
    if (paths.auto_remove) args.push_back("rm=1");
    if (r.policy.name != "no" || paths.auto_remove) {
        for (std::string arg : {"kiln=" + r.kiln_binary, "root=" + r.store_root, "id=" + r.container_id})
            args.push_back(arg);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (on_started) on_started(h.pid);
    for (int fd : {h.pidfd, h.stdout_fd, h.stderr_fd, h.stdin_fd, h.lock_fd, report_fd, paths.attach_listener})
        keep_across_exec(fd);
    ::execv(argv[0], argv.data());
    throw_errno("exec " + paths.monitor_binary);
    // `container` dies with the throw: the container is killed and its traces removed.
}

// The grandchild: starts the container and becomes its monitor. Reports on report_fd:
// "ok\n" (from the monitor), "exec CODE\n" or "error TEXT".
[[noreturn]] void become_monitor(const ContainerSpec& spec, const DetachPaths& paths, int report_fd) {
    try {
        int failure = start_and_become_monitor(spec, paths, report_fd, {});
        write_text(report_fd, "exec " + std::to_string(failure) + "\n");
    } catch (const std::exception& e) {
        write_text(report_fd, std::string("error ") + e.what());
    }
    ::_exit(0);
}

}  // namespace

int restart_in_place(const ContainerSpec& spec, const DetachPaths& paths, const std::function<void(pid_t)>& on_started) {
    return start_and_become_monitor(spec, paths, -1, on_started);
}

std::string kiln_binary() {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) throw_errno("readlink /proc/self/exe");
    return std::string(self, static_cast<std::size_t>(n));
}

std::string default_monitor_binary() {
    std::string path = kiln_binary();
    return path.substr(0, path.rfind('/') + 1) + "kiln-monitor";
}

std::string default_init_binary() {
    std::string path = kiln_binary();
    path = path.substr(0, path.rfind('/') + 1) + "kiln-init";
    if (::access(path.c_str(), X_OK) != 0) throw_errno("kiln-init (for --init) at " + path);
    return path;
}

DetachedStart start_detached(const ContainerSpec& spec, const DetachPaths& paths) {
    // The caller's own stdin would be held by the monitor for the container's life.
    if (spec.stdin_fd >= 0) throw Error("a detached container's stdin is its monitor's (open_stdin), not the caller's");
    if (::access(paths.monitor_binary.c_str(), X_OK) != 0) throw_errno("kiln-monitor at " + paths.monitor_binary);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    UniqueFd report_read(fds[0]), report_write(fds[1]);
    pid_t first = ::fork();
    if (first < 0) throw_errno("fork");
    if (first == 0) {
        report_read.reset();
        ::setsid();
        pid_t second = ::fork();
        if (second != 0) ::_exit(second < 0 ? 1 : 0);
        become_monitor(spec, paths, report_write.get());
    }
    report_write.reset();
    int status = 0;
    while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
    }
    std::string report = read_all(report_read.get(), "the monitor's report");
    DetachedStart result;
    if (report.starts_with("ok ")) {
        result.pid = std::atoi(report.c_str() + 3);
        return result;
    }
    if (report.starts_with("exec ")) {
        result.exec_failure = std::atoi(report.c_str() + 5);
        return result;
    }
    if (report.starts_with("error ")) throw Error(report.substr(6));
    throw Error("the container's monitor failed to start" + (report.empty() ? "" : ": " + report));
}

}  // namespace kiln::runtime
