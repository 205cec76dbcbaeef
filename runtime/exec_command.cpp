#include "runtime/exec_command.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace kiln::runtime {

namespace {

void exec_failure(ChildReport& r, const char* file, int err) {
    r.kind = ChildReport::exec;
    r.exit_code = (err == ENOENT || err == ENOTDIR) ? 127 : 126;
    if (err == ENOENT && !std::strchr(file, '/'))
        std::snprintf(r.text, sizeof r.text, "exec: \"%s\": executable file not found in $PATH", file);
    else  // Go-style lower-case text, as `docker run` prints it ("permission denied")
        std::snprintf(r.text, sizeof r.text, "exec: \"%s\": %c%s", file,
                      std::tolower(static_cast<unsigned char>(::strerrordesc_np(err)[0])),
                      ::strerrordesc_np(err) + 1);
}

}  // namespace

void exec_command(char* const argv[], char* const envp[], const char* path, ChildReport& r) {
    const char* file = argv[0];
    if (std::strchr(file, '/')) {
        ::execve(file, argv, envp);
        return exec_failure(r, file, errno);
    }
    bool denied = false;
    char candidate[PATH_MAX];
    const char* dirs = path ? path : "";
    for (;;) {
        const char* end = std::strchr(dirs, ':');
        std::size_t len = end ? static_cast<std::size_t>(end - dirs) : std::strlen(dirs);
        int n = len ? std::snprintf(candidate, sizeof candidate, "%.*s/%s", static_cast<int>(len), dirs, file)
                    : std::snprintf(candidate, sizeof candidate, "%s", file);  // empty entry: cwd
        if (n > 0 && static_cast<std::size_t>(n) < sizeof candidate) {
            ::execve(candidate, argv, envp);
            int err = errno;
            if (err == EACCES)
                denied = true;
            else if (err != ENOENT && err != ENOTDIR && err != ELOOP && err != ENAMETOOLONG)
                return exec_failure(r, file, err);  // found, but not runnable (ENOEXEC, ...)
        }
        if (!end) break;
        dirs = end + 1;
    }
    exec_failure(r, file, denied ? EACCES : ENOENT);
}

}  // namespace kiln::runtime
