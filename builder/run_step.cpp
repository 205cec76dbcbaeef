#include "builder/run_step.hpp"

#include <fcntl.h>
#include <cerrno>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "builder/run_mount_setup.hpp"
#include "runtime/container.hpp"
#include "util/error.hpp"

namespace kiln::builder {

namespace {

std::string strip_leading_tabs(const std::string& body) {
    std::string out;
    bool line_start = true;
    for (char c : body) {
        if (line_start && c == '\t') continue;
        line_start = c == '\n';
        out += c;
    }
    return out;
}

bool is_only_heredoc(const std::string& text, const parser::Heredoc& doc) {
    std::string trimmed = text;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.pop_back();
    std::size_t start = trimmed.find_first_not_of(" \t");
    if (start == std::string::npos) return false;
    trimmed = trimmed.substr(start);
    if (!trimmed.starts_with("<<")) return false;
    std::string rest = trimmed.substr(trimmed.starts_with("<<-") ? 3 : 2);
    std::string bare;
    for (char c : rest)
        if (c != '"' && c != '\'' && c != ' ' && c != '\t') bare += c;
    return bare == doc.name;
}

// The container's stdout and stderr as one pipe, read into out line by line on a thread
// of its own while the container runs.
class OutputLines {
public:
    explicit OutputLines(StageProgress& out) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe for the RUN output");
        read_end_.reset(fds[0]);
        write_end_.reset(fds[1]);
        reader_ = std::jthread([this, &out] { read_lines(out); });
    }
    ~OutputLines() { finish(); }
    OutputLines(const OutputLines&) = delete;
    OutputLines& operator=(const OutputLines&) = delete;

    int write_fd() const { return write_end_.get(); }
    // Once the container's output is closed: the last lines are read.
    void finish() {
        write_end_.reset();
        if (reader_.joinable()) reader_.join();
    }

private:
    void read_lines(StageProgress& out) {
        std::string pending;
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(read_end_.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            pending.append(buf, static_cast<std::size_t>(n));
            std::size_t start = 0;
            for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
                out.container_output(std::string_view(pending).substr(start, nl - start));
            pending.erase(0, start);
            // A line that never ends still shows, in pieces of a bounded size.
            if (pending.size() >= kLongestLine) {
                out.container_output(pending);
                pending.clear();
            }
        }
        if (!pending.empty()) out.container_output(pending);
    }

    static constexpr std::size_t kLongestLine = 64 * 1024;
    UniqueFd read_end_, write_end_;
    std::jthread reader_;
};

}  // namespace

std::vector<std::string> run_step_args(const RunStepInput& input) {
    if (!input.shell_form || input.heredocs.empty() || input.args.empty()) return input.args;
    std::vector<std::string> args = input.args;
    std::string& text = args.back();
    auto body = [](const parser::Heredoc& doc) {
        return doc.chomp ? strip_leading_tabs(doc.content) : doc.content;
    };
    if (input.heredocs.size() == 1 && is_only_heredoc(text, input.heredocs[0])) {
        text = body(input.heredocs[0]);
        return args;
    }
    for (const auto& doc : input.heredocs) {
        text += "\n" + body(doc);
        if (!text.ends_with('\n')) text += "\n";
        text += doc.name;
    }
    return args;
}

void run_step(const RunStepInput& input, const image::Snapshot& snapshot, StageProgress& out) {
    runtime::ContainerSpec spec;
    spec.args = run_step_args(input);
    if (spec.args.empty()) throw Error("RUN has no command");
    spec.env = input.config.env();
    // Build args reach RUN as environment, below ENV of the same name.
    for (const auto& [name, value] : input.build_args)
        if (!input.config.env_value(name)) spec.env.push_back(name + "=" + value);
    spec.cwd = input.config.working_dir();
    spec.user = input.config.user();
    spec.rootfs = snapshot.mount;
    spec.host_network = input.host_network;
    spec.privileged = input.insecure;
    auto settings_files = input.settings ? apply_run_settings(*input.settings, spec) : nullptr;
    if (input.mounts) input.mounts->apply_to(spec);
    OutputLines output(out);
    spec.stdout_fd = spec.stderr_fd = output.write_fd();
    StageProgress::Watch watch;
    int code = runtime::run_container(spec, [&](pid_t pid) { watch = out.watch(pid); }, [&](int, bool) { watch = {}; });
    output.finish();
    if (input.settings) remove_run_settings_stubs(*input.settings, snapshot.upper_dir);
    if (input.mounts) input.mounts->remove_stubs(snapshot.upper_dir);
    if (code != 0)
        throw Error(fmt::format("process {} did not complete successfully: exit code: {}",
                                nlohmann::json(spec.args).dump(), code));
}

}  // namespace kiln::builder
