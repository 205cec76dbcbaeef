#include "registry/credential_helper.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace kiln::registry {

namespace {

constexpr std::size_t kHelperOutputLimit = 1 << 20;
// What helpers print when they hold nothing for a server (docker-credential-helpers).
constexpr std::string_view kNotFound = "credentials not found in native keychain";

std::pair<UniqueFd, UniqueFd> make_pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The helper's first line of output, trimmed, for error messages (it never holds the secret:
// helpers print only errors there when they fail).
std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line.substr(0, 200);
}

}  // namespace

CredentialHelper::Result CredentialHelper::run(const std::string& action, const std::string& input) const {
    auto [in_read, in_write] = make_pipe();
    auto [out_read, out_write] = make_pipe();

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
    std::string prog = program();
    char* argv[] = {prog.data(), const_cast<char*>(action.c_str()), nullptr};
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, prog.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        if (rc == ENOENT) throw Error("credential helper " + prog + " not found in PATH");
        throw_errno("starting credential helper " + prog, rc);
    }
    in_read.reset();
    out_write.reset();

    // A helper that exits without reading its stdin must not kill kiln with SIGPIPE.
    struct sigaction ignore{}, old{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old);
    try {
        write_all(in_write.get(), input, prog + " stdin");
    } catch (const Error&) {
        // The exit status and output below say what went wrong.
    }
    sigaction(SIGPIPE, &old, nullptr);
    in_write.reset();

    Result result;
    char buf[4096];
    bool too_long = false;
    for (;;) {
        std::size_t n = read_some(out_read.get(), buf, sizeof buf, prog + " stdout");
        if (n == 0) break;
        if (result.out.size() + n > kHelperOutputLimit) {
            too_long = true;
            break;
        }
        result.out.append(buf, n);
    }
    out_read.reset();
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (too_long) throw Error("credential helper " + prog + ": output larger than 1 MiB");
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::optional<Credential> CredentialHelper::get(const std::string& server_url) const {
    Result r = run("get", server_url);
    if (r.exit_code != 0) {
        if (r.out.find(kNotFound) != std::string::npos) return std::nullopt;
        throw Error("credential helper " + program() + " get failed: " + first_line(r.out));
    }
    nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
    if (!doc.is_object() || !doc.value("Username", nlohmann::json()).is_string() ||
        !doc.value("Secret", nlohmann::json()).is_string())
        throw Error("credential helper " + program() + " get: answer is not {\"Username\",\"Secret\"} JSON");
    Credential c;
    c.username = doc["Username"].get<std::string>();
    c.secret = doc["Secret"].get<std::string>();
    if (c.username.empty() && c.secret.empty()) return std::nullopt;
    // The helpers' convention for an identity token.
    if (c.username == "<token>") c.identity_token = true;
    return c;
}

void CredentialHelper::store(const std::string& server_url, const Credential& credential) const {
    nlohmann::json doc = {{"ServerURL", server_url},
                          {"Username", credential.identity_token ? std::string("<token>") : credential.username},
                          {"Secret", credential.secret}};
    Result r = run("store", doc.dump());
    if (r.exit_code != 0) throw Error("credential helper " + program() + " store failed: " + first_line(r.out));
}

bool CredentialHelper::erase(const std::string& server_url) const {
    Result r = run("erase", server_url);
    if (r.exit_code == 0) return true;
    if (r.out.find(kNotFound) != std::string::npos) return false;
    throw Error("credential helper " + program() + " erase failed: " + first_line(r.out));
}

}  // namespace kiln::registry
