// `kiln top CONTAINER [ps OPTIONS]`: the host's ps (default -ef), keeping the lines of the
// container's processes (its cgroup's), as the docker daemon and CLI do it.
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <iostream>
#include <regex>
#include <set>

#include "cli/commands.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/container_records.hpp"
#include "runtime/restart_policy.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"
#include "util/go_template.hpp"

extern char** environ;

namespace kiln::cli {

namespace {

struct PsOutput {
    bool ok = false;
    std::string out, err_line;  // stdout; the first line of stderr when it failed
};

// Runs the host's ps with args, stdout through a pipe, stderr into a memory file (so a
// chatty stderr cannot block it while stdout is read).
PsOutput run_ps(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
    UniqueFd out_read(fds[0]), out_write(fds[1]);
    UniqueFd err_file(::memfd_create("kiln-top-ps-stderr", MFD_CLOEXEC));
    if (!err_file) throw_errno("memfd_create");
    std::vector<std::string> words{"ps"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_file.get(), 2);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, "ps", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw_errno("ps", rc);
    out_write.reset();
    PsOutput result;
    result.out = read_all(out_read.get(), "ps output");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!result.ok) {
        ::lseek(err_file.get(), 0, SEEK_SET);
        std::string err = read_all(err_file.get(), "ps stderr");
        result.err_line = err.substr(0, err.find('\n'));
        if (result.err_line.empty()) result.err_line = "exit status " + std::to_string(WEXITSTATUS(status));
    }
    return result;
}

// Go's strings.Fields over ASCII white space.
std::vector<std::string> fields(const std::string& line) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        std::size_t start = i;
        while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, std::size_t from, std::size_t to, const char* sep) {
    std::string out;
    for (std::size_t i = from; i < to; ++i) out += (i > from ? sep : "") + parts[i];
    return out;
}

// The daemon's validatePSArgs: a column may be renamed to PID only if it is the pid.
void validate_ps_args(const std::string& ps_args) {
    static const std::regex renamed_to_pid(R"(\s+([^\s]*)=\s*(PID[^\s]*))");
    for (std::sregex_iterator it(ps_args.begin(), ps_args.end(), renamed_to_pid), end; it != end; ++it)
        if ((*it)[1] != "pid") throw Error("specifying \"" + (*it)[1].str() + "=" + (*it)[2].str() + "\" is not allowed");
}

// The daemon's parsePSOutput: the header's titles, then the lines whose PID is the
// container's ("-" lines, threads under `-m`, follow the process before them); the last
// column takes the rest of the line (the command with its spaces).
std::string container_lines(const std::string& output, const std::set<long>& pids) {
    std::vector<std::string> lines;
    for (std::size_t start = 0; start <= output.size();) {
        auto nl = output.find('\n', start);
        if (nl == std::string::npos) nl = output.size();
        lines.push_back(output.substr(start, nl - start));
        start = nl + 1;
    }
    const auto titles = fields(lines.front());
    const auto pid_column = std::find(titles.begin(), titles.end(), "PID");
    if (pid_column == titles.end()) throw Error("Couldn't find PID field in ps output");
    const auto pid_index = static_cast<std::size_t>(pid_column - titles.begin());
    std::string table = join(titles, 0, titles.size(), "\t") + "\n";
    bool previous_kept = false;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto cells = fields(lines[i]);
        if (cells.empty()) continue;
        if (cells.size() < titles.size()) throw Error("Unexpected ps output line: " + lines[i]);
        bool keep;
        if (cells[pid_index] == "-") {
            keep = previous_kept;
        } else {
            char* end = nullptr;
            const long pid = std::strtol(cells[pid_index].c_str(), &end, 10);
            if (*end || end == cells[pid_index].c_str())
                throw Error("Unexpected pid '" + cells[pid_index] + "': invalid syntax");
            keep = previous_kept = pids.count(pid) > 0;
        }
        if (keep)
            table += join(cells, 0, titles.size() - 1, "\t") + "\t" + join(cells, titles.size() - 1, cells.size(), " ") + "\n";
    }
    return table;
}

}  // namespace

void register_top_commands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
    auto* cmd = app.add_subcommand("top", "Display the running processes of a container");
    // Everything after CONTAINER is ps's, flags included.
    cmd->prefix_command();
    cmd->callback([cmd, &global, &exit_code] {
        auto rest = cmd->remaining();
        if (rest.empty() || rest.front().starts_with('-')) {
            std::cerr << "kiln: \"kiln top\" requires at least 1 argument: CONTAINER [ps OPTIONS]" << std::endl;
            exit_code = 1;
            return;
        }
        const std::string ps_args = rest.size() > 1 ? join(rest, 1, rest.size(), " ") : "-ef";
        for_each_container(global, {rest.front()}, exit_code, [&](image::Store&, auto& records, const std::string& name) {
            auto row = records.resolve(name);
            if (row.state != "running") throw Error("Container " + row.id + " is not running");
            if (runtime::container_restarting(row.id))
                throw Error("Container " + row.id + " is restarting, wait until the container is running");
            validate_ps_args(ps_args);
            const auto found = runtime::container_pids(row.id);
            if (found.empty()) throw Error("Container " + row.id + " is not running");
            const std::set<long> pids(found.begin(), found.end());
            // The daemon splits on single spaces, so "a  b" passes an empty word, as there.
            std::vector<std::string> args;
            for (std::size_t start = 0;;) {
                auto space = ps_args.find(' ', start);
                args.push_back(ps_args.substr(start, space == std::string::npos ? std::string::npos : space - start));
                if (space == std::string::npos) break;
                start = space + 1;
            }
            // ps -q lists just these pids (fast on a busy host); some options refuse it.
            std::string pid_list;
            for (long pid : pids) pid_list += (pid_list.empty() ? "" : ",") + std::to_string(pid);
            auto with_pids = args;
            with_pids.insert(with_pids.end(), {"-q", pid_list});
            auto ps = run_ps(with_pids);
            if (!ps.ok) ps = run_ps(args);
            if (!ps.ok) throw Error("ps: " + ps.err_line);
            std::cout << tabwrite(container_lines(ps.out, pids), 20, 3) << std::flush;
        });
    });
}

}  // namespace kiln::cli
