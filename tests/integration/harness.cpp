#include "harness.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <memory>
#include <regex>
#include <sstream>

#include "runtime/runtime_dir.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace kiln::test {

bool is_root() { return ::geteuid() == 0; }

bool have_tool(const std::string& name) { return run_command({"sh", "-c", "command -v " + name}).exit_code == 0; }

Sandbox::Sandbox(std::vector<std::string> args) {
    mkdir_p(dir.path() + "/upper");
    mkdir_p(dir.path() + "/work");
    mkdir_p(dir.path() + "/state");
    spec.args = std::move(args);
    spec.rootfs.type = "overlay";
    spec.rootfs.source = "overlay";
    spec.rootfs.options = "lowerdir=" + shared_busybox_rootfs() + ",upperdir=" + dir.path() +
                          "/upper,workdir=" + dir.path() + "/work";
    spec.state_dir = dir.path() + "/state";
}

namespace {

// A memory file's whole content, whatever its offset.
std::string read_memfd(int fd) {
    std::string text;
    char buf[4096];
    ssize_t n;
    off_t off = 0;
    while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    return text;
}

}  // namespace

Output run(runtime::ContainerSpec spec) {
    UniqueFd out(::memfd_create("out", MFD_CLOEXEC)), err(::memfd_create("err", MFD_CLOEXEC));
    spec.stdout_fd = out.get();
    spec.stderr_fd = err.get();
    int code = runtime::run_container(spec);
    return {code, read_memfd(out.get()), read_memfd(err.get())};
}

namespace {

struct Pipe {
    UniqueFd read, write;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Owns a posix_spawn_file_actions_t for the scope of one spawn.
class FileActions {
public:
    FileActions() { ::posix_spawn_file_actions_init(&actions_); }
    ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
    FileActions(const FileActions&) = delete;
    FileActions& operator=(const FileActions&) = delete;
    void dup2(int from, int to) { ::posix_spawn_file_actions_adddup2(&actions_, from, to); }
    posix_spawn_file_actions_t* get() { return &actions_; }

private:
    posix_spawn_file_actions_t actions_;
};

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data) {
    if (argv.empty()) throw Error("run_command: empty argv");
    Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();

    FileActions actions;
    // dup2 clears O_CLOEXEC on the child's copies; every other pipe end closes at exec.
    actions.dup2(in.read.get(), 0);
    actions.dup2(out.write.get(), 1);
    actions.dup2(err.write.get(), 2);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid;
    int rc = ::posix_spawnp(&pid, cargv[0], actions.get(), nullptr, cargv.data(), environ);
    if (rc != 0) throw_errno("spawn " + argv[0], rc);
    in.read.reset();
    out.write.reset();
    err.write.reset();

    // A child that exits before reading all its input must not kill the test with
    // SIGPIPE: the write then fails with EPIPE, which ends the input.
    static const bool sigpipe_ignored = ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
    (void)sigpipe_ignored;
    // The child may fill stdout before it reads stdin: pump all three pipes together.
    CommandResult result;
    std::size_t written = 0;
    if (stdin_data.empty()) in.write.reset();
    if (in.write) ::fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
    while (out.read || err.read || in.write) {
        pollfd fds[3];
        int n = 0;
        if (out.read) fds[n++] = {out.read.get(), POLLIN, 0};
        if (err.read) fds[n++] = {err.read.get(), POLLIN, 0};
        if (in.write) fds[n++] = {in.write.get(), POLLOUT, 0};
        if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        for (int i = 0; i < n; ++i) {
            if (!fds[i].revents) continue;
            if (in.write && fds[i].fd == in.write.get()) {
                ssize_t w = ::write(in.write.get(), stdin_data.data() + written, stdin_data.size() - written);
                if (w > 0) written += static_cast<std::size_t>(w);
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size())
                    in.write.reset();
                continue;
            }
            UniqueFd& src = (out.read && fds[i].fd == out.read.get()) ? out.read : err.read;
            std::string& dst = (&src == &out.read) ? result.out : result.err;
            char buf[65536];
            ssize_t r = ::read(src.get(), buf, sizeof buf);
            if (r > 0)
                dst.append(buf, static_cast<std::size_t>(r));
            else if (r == 0 || errno != EINTR)
                src.reset();
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_errno("waitpid");
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

const std::string& probe_binary() {
    static const std::string path = KILN_PROBE;
    return path;
}

std::string make_busybox_rootfs(const std::string& dir) {
    const std::string busybox = "/bin/busybox";
    if (::access(busybox.c_str(), X_OK) != 0)
        throw Error(busybox + " missing: apt-get install busybox-static");
    for (const char* sub : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys",
                            "root", "tmp", "var/tmp", "home"})
        mkdir_p(dir + "/" + sub);
    ::chmod((dir + "/tmp").c_str(), 01777);
    ::chmod((dir + "/var/tmp").c_str(), 01777);
    ::chmod((dir + "/root").c_str(), 0700);
    std::filesystem::copy_file(busybox, dir + "/bin/busybox",
                               std::filesystem::copy_options::overwrite_existing);
    ::chmod((dir + "/bin/busybox").c_str(), 0755);

    CommandResult list = run_command({busybox, "--list-full"});
    if (list.exit_code != 0) throw Error("busybox --list-full failed: " + list.err);
    std::istringstream applets(list.out);
    for (std::string applet; std::getline(applets, applet);) {
        if (applet.empty() || applet == "bin/busybox") continue;
        std::string link = dir + "/" + applet;
        mkdir_p(link.substr(0, link.rfind('/')));
        if (::symlink("/bin/busybox", link.c_str()) != 0 && errno != EEXIST)
            throw_errno("symlink " + link);
    }
    // The attack probe (tests/integration/probe) beside busybox, for the calls it has no
    // applet for.
    std::filesystem::copy_file(probe_binary(), dir + "/bin/kiln-probe",
                               std::filesystem::copy_options::overwrite_existing);
    ::chmod((dir + "/bin/kiln-probe").c_str(), 0755);
    atomic_write(dir + "/etc/passwd",
                 "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    atomic_write(dir + "/etc/group", "root:x:0:\nnogroup:x:65534:\n");
    return dir;
}

std::vector<std::string> Kiln::argv(std::vector<std::string> args) const {
    args.insert(args.begin(), {KILN_BINARY, "--root", root.path()});
    return args;
}

CommandResult Kiln::operator()(std::vector<std::string> args, const std::string& input) const {
    return run_command(argv(std::move(args)), input);
}

namespace {

// The tarball of this test process, removed when the process ends: CTest runs every case
// in a process of its own, and each left a 2 MB file in /tmp.
struct ProcessTarball {
    std::string path;
    ~ProcessTarball() {
        if (!path.empty()) ::unlink(path.c_str());
    }
};

}  // namespace

const std::string& busybox_tarball() {
    static const ProcessTarball tarball = [] {
        std::string out = "/tmp/kiln-it-busybox-" + std::to_string(::getpid()) + ".tar";
        auto r = run_command({"bash", KILN_SOURCE_DIR "/scripts/make-busybox-rootfs", out});
        if (r.exit_code != 0) FAIL("make-busybox-rootfs failed: " << r.err);
        return ProcessTarball{out};
    }();
    return tarball.path;
}

void import_base(const Kiln& kiln) {
    auto r = kiln({"import", busybox_tarball(), "localhost/busybox:latest"});
    REQUIRE(r.exit_code == 0);
}

void import_probe_image(const Kiln& kiln) {
    import_base(kiln);
    TempDir context("/tmp", "kiln-it-probe-");
    std::filesystem::copy_file(probe_binary(), context.path() + "/kiln-probe");
    atomic_write(context.path() + "/Dockerfile", "FROM localhost/busybox\nCOPY kiln-probe /bin/kiln-probe\n");
    auto r = kiln({"build", "-q", "-t", "localhost/probe", context.path()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
}

void build_small_image(const Kiln& kiln, const std::string& name) {
    import_base(kiln);
    TempDir context("/tmp", "kiln-it-small-");
    atomic_write(context.path() + "/Dockerfile",
                 "FROM localhost/busybox\nRUN echo small > /marker\nCMD [\"cat\", \"/marker\"]\n");
    auto r = kiln({"build", "-q", "-t", name, context.path()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
}

std::string inspect_value(const Kiln& kiln, const std::string& name, const std::string& format) {
    return trimmed(kiln({"inspect", "-f", format, name}).out);
}

bool host_traces_gone(const std::string& id) {
    for (const char* h : {"/sys/fs/cgroup/kiln/", "/sys/fs/cgroup/pids/kiln/", "/sys/fs/cgroup/memory/kiln/",
                          "/sys/fs/cgroup/devices/kiln/", "/sys/fs/cgroup/unified/kiln/", "/sys/fs/cgroup/cpu/kiln/",
                          "/sys/fs/cgroup/cpuset/kiln/", "/sys/fs/cgroup/blkio/kiln/", "/sys/fs/cgroup/freezer/kiln/"})
        if (path_exists(h + id)) return false;
    if (path_exists(runtime::runtime_dirs_parent() + "/" + id)) return false;
    if (path_exists("/sys/class/net/veth" + id.substr(0, 11))) return false;  // its bridge veth
    return read_file("/proc/self/mountinfo").find(id) == std::string::npos;
}

std::set<std::string> dir_entries(const std::string& dir) {
    std::set<std::string> out;
    if (!path_exists(dir)) return out;
    for (auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename());
    return out;
}

const std::string& shared_busybox_rootfs() {
    // A function-local static: built once, thread-safe, and removed (TempDir) at exit.
    static const auto holder = [] {
        auto tmp = std::make_unique<TempDir>("/tmp", "kiln-busybox-");
        make_busybox_rootfs(tmp->path() + "/rootfs");
        return tmp;
    }();
    static const std::string path = holder->path() + "/rootfs";
    return path;
}

ProcessOnTerminal start_on_terminal(const std::vector<std::string>& argv, bool raw, unsigned short rows,
                                    unsigned short cols) {
    ProcessOnTerminal t;
    t.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    REQUIRE(t.master);
    REQUIRE(::grantpt(t.master.get()) == 0);
    REQUIRE(::unlockpt(t.master.get()) == 0);
    char name[128];
    REQUIRE(::ptsname_r(t.master.get(), name, sizeof name) == 0);
    t.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    REQUIRE(t.slave);
    if (raw) {
        termios mode{};
        REQUIRE(::tcgetattr(t.slave.get(), &mode) == 0);
        ::cfmakeraw(&mode);  // input is readable byte by byte, with no echo back to the master
        REQUIRE(::tcsetattr(t.slave.get(), TCSANOW, &mode) == 0);
    }
    if (rows > 0) {
        winsize size{};
        size.ws_row = rows;
        size.ws_col = cols;
        REQUIRE(::ioctl(t.slave.get(), TIOCSWINSZ, &size) == 0);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    t.pid = ::fork();
    REQUIRE(t.pid >= 0);
    if (t.pid == 0) {
        ::setsid();
        if (::ioctl(t.slave.get(), TIOCSCTTY, 0) != 0) ::_exit(120);
        for (int fd = 0; fd < 3; ++fd) ::dup2(t.slave.get(), fd);
        ::execv(args[0], args.data());
        ::_exit(121);
    }
    return t;
}

TerminalRun run_on_terminal(const std::vector<std::string>& argv) {
    auto terminal = start_on_terminal(argv, true);
    const kiln::UniqueFd& master = terminal.master;
    const kiln::UniqueFd& slave = terminal.slave;
    const pid_t pid = terminal.pid;
    TerminalRun result;
    char buf[4096];
    int status = 0;
    for (;;) {
        pollfd p{master.get(), POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {
            ssize_t n = ::read(master.get(), buf, sizeof buf);
            if (n > 0) result.output.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (::waitpid(pid, &status, WNOHANG) == pid) break;
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::fcntl(slave.get(), F_SETFL, O_NONBLOCK);
    ssize_t n;
    while ((n = ::read(slave.get(), buf, sizeof buf)) > 0) result.input_queue.append(buf, static_cast<std::size_t>(n));
    return result;
}

CommandResult sh(const Kiln& kiln, std::vector<std::string> flags, const std::string& script) {
    std::vector<std::string> args = {"run", "--rm"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"localhost/busybox", "sh", "-c", script});
    return kiln(args);
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string build_step_output(const std::string& build_out) {
    static const std::regex output_line("^#[0-9]+ [0-9]+\\.[0-9]+ (.*)$");
    std::string out;
    std::istringstream in(build_out);
    std::smatch m;
    for (std::string line; std::getline(in, line);)
        if (std::regex_match(line, m, output_line)) out += m[1].str() + "\n";
    return out;
}

}  // namespace kiln::test
