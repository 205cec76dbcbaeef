#include "runtime/exec_command.hpp"

#include <cerrno>
#include <linux/limits.h>
#include <cstddef>

namespace kiln::runtime {

namespace {

const char* find_char(const char* s, char c) {
    for (; *s; ++s)
        if (*s == c) return s;
    return nullptr;
}

std::size_t length(const char* s) {
    std::size_t n = 0;
    while (s[n]) ++n;
    return n;
}

// Appends text to a bounded buffer, always terminated; false once it no longer fits.
struct Writer {
    char* out;
    std::size_t cap;
    std::size_t len = 0;
    bool fits = true;

    Writer& add(const char* s, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            if (len + 1 >= cap) {
                fits = false;
                break;
            }
            out[len++] = s[i];
        }
        out[len] = '\0';
        return *this;
    }
    Writer& add(const char* s) { return add(s, length(s)); }
};

void add_number(Writer& w, int value) {
    char digits[16];
    int n = 0;
    unsigned v = value < 0 ? 0u - static_cast<unsigned>(value) : static_cast<unsigned>(value);
    do digits[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0 && n < 15);
    if (value < 0) w.add("-", 1);
    while (n > 0) w.add(&digits[--n], 1);
}

void exec_failure(ChildReport& r, const char* file, int err) {
    r.kind = ChildReport::exec;
    r.exit_code = (err == ENOENT || err == ENOTDIR) ? 127 : 126;
    Writer w{r.text, sizeof r.text};
    w.add("exec: \"").add(file).add("\": ");
    if (err == ENOENT && !find_char(file, '/')) {
        w.add("executable file not found in $PATH");
    } else if (const char* text = exec_error_text(err)) {
        w.add(text);
    } else {
        w.add("errno ");
        add_number(w, err);
    }
}

}  // namespace

const char* exec_error_text(int err) {
    switch (err) {
        case EPERM: return "operation not permitted";
        case ENOENT: return "no such file or directory";
        case EIO: return "input/output error";
        case E2BIG: return "argument list too long";
        case ENOEXEC: return "exec format error";
        case EAGAIN: return "resource temporarily unavailable";
        case ENOMEM: return "cannot allocate memory";
        case EACCES: return "permission denied";
        case EFAULT: return "bad address";
        case ENOTDIR: return "not a directory";
        case EISDIR: return "is a directory";
        case EINVAL: return "invalid argument";
        case ENFILE: return "too many open files in system";
        case EMFILE: return "too many open files";
        case ETXTBSY: return "text file busy";
        case ENAMETOOLONG: return "file name too long";
        case ELOOP: return "too many levels of symbolic links";
        case ELIBBAD: return "accessing a corrupted shared library";
        case ENOSYS: return "function not implemented";
        default: return nullptr;
    }
}

void exec_command(char* const argv[], char* const envp[], const char* path, ChildReport& r, ExecveFn execve) {
    const char* file = argv[0];
    if (find_char(file, '/')) return exec_failure(r, file, execve(file, argv, envp));
    bool denied = false;
    char candidate[PATH_MAX];
    const char* dirs = path ? path : "";
    for (;;) {
        const char* end = find_char(dirs, ':');
        const std::size_t len = end ? static_cast<std::size_t>(end - dirs) : length(dirs);
        Writer w{candidate, sizeof candidate};
        if (len) w.add(dirs, len).add("/");  // an empty entry is the working directory
        w.add(file);
        if (w.fits) {
            const int err = execve(candidate, argv, envp);
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
