#include <catch2/catch.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "runtime/exec_command.hpp"

using kiln::runtime::ChildReport;

namespace {

// What the fake execve was asked, and the errno it gives each path (ENOENT otherwise).
std::vector<std::string> tried;
std::map<std::string, int> outcome;

int fake_execve(const char* file, char* const[], char* const[]) {
    tried.emplace_back(file);
    auto it = outcome.find(file);
    return it == outcome.end() ? ENOENT : it->second;
}

ChildReport run(const char* command, const char* path) {
    tried.clear();
    std::string cmd = command;
    char* argv[] = {cmd.data(), nullptr};
    char* envp[] = {nullptr};
    ChildReport report;
    kiln::runtime::exec_command(argv, envp, path, report, fake_execve);
    return report;
}

}  // namespace

TEST_CASE("exec_command searches PATH in order, an empty entry meaning the working directory", "[runtime][exec]") {
    outcome = {};
    ChildReport r = run("tool", "/a:/b/c::/d");
    CHECK(tried == std::vector<std::string>{"/a/tool", "/b/c/tool", "tool", "/d/tool"});
    CHECK(r.kind == ChildReport::exec);
    CHECK(r.exit_code == 127);
    CHECK(std::string(r.text) == "exec: \"tool\": executable file not found in $PATH");

    // A command with a slash is run as given, never searched.
    r = run("./x/tool", "/a:/b");
    CHECK(tried == std::vector<std::string>{"./x/tool"});
    CHECK(r.exit_code == 127);
    CHECK(std::string(r.text) == "exec: \"./x/tool\": no such file or directory");

    // No PATH at all: only the bare name, as the empty entry.
    run("tool", nullptr);
    CHECK(tried == std::vector<std::string>{"tool"});
}

TEST_CASE("exec_command follows Docker's 126 and 127 rules", "[runtime][exec]") {
    // Permission denied on the way is remembered, and the search goes on.
    outcome = {{"/a/tool", EACCES}};
    ChildReport r = run("tool", "/a:/b");
    CHECK(tried == std::vector<std::string>{"/a/tool", "/b/tool"});
    CHECK(r.exit_code == 126);
    CHECK(std::string(r.text) == "exec: \"tool\": permission denied");

    // Found but not runnable ends the search.
    outcome = {{"/a/tool", ENOEXEC}};
    r = run("tool", "/a:/b");
    CHECK(tried == std::vector<std::string>{"/a/tool"});
    CHECK(r.exit_code == 126);
    CHECK(std::string(r.text) == "exec: \"tool\": exec format error");

    // Not found through a file where a folder should be: searched on, then 127.
    outcome = {{"/a/tool", ENOTDIR}, {"/b/tool", ELOOP}};
    r = run("tool", "/a:/b");
    CHECK(tried.size() == 2);
    CHECK(r.exit_code == 127);

    outcome = {{"/bin/x", ENOTDIR}};
    r = run("/bin/x", "");
    CHECK(r.exit_code == 127);
    CHECK(std::string(r.text) == "exec: \"/bin/x\": not a directory");

    // An errno without a text of its own still says which.
    outcome = {{"/bin/x", EPROTO}};
    r = run("/bin/x", "");
    CHECK(r.exit_code == 126);
    CHECK(std::string(r.text) == "exec: \"/bin/x\": errno " + std::to_string(EPROTO));
}

TEST_CASE("exec_command skips candidates too long for a path and truncates its message", "[runtime][exec]") {
    outcome = {};
    std::string dir = "/" + std::string(5000, 'd');
    std::string path = dir + ":/ok";
    ChildReport r = run("tool", path.c_str());
    CHECK(tried == std::vector<std::string>{"/ok/tool"});

    std::string name(3000, 'n');
    r = run(("/" + name).c_str(), "");
    CHECK(std::strlen(r.text) == sizeof r.text - 1);
    CHECK(std::string(r.text).starts_with("exec: \"/nnn"));
}

TEST_CASE("exec_error_text is glibc's strerror text with a lower-case first letter", "[runtime][exec]") {
    for (int err : {EPERM, ENOENT, EIO, E2BIG, ENOEXEC, EAGAIN, ENOMEM, EACCES, EFAULT, ENOTDIR, EISDIR, EINVAL,
                    ENFILE, EMFILE, ETXTBSY, ENAMETOOLONG, ELOOP, ELIBBAD, ENOSYS}) {
        INFO("errno " << err);
        const char* text = kiln::runtime::exec_error_text(err);
        REQUIRE(text != nullptr);
        std::string expected = ::strerrordesc_np(err);
        expected[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(expected[0])));
        CHECK(text == expected);
    }
    CHECK(kiln::runtime::exec_error_text(EPROTO) == nullptr);
}
