#include "runtime/seccomp_cache.hpp"

#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "util/digest.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::runtime {

namespace {

constexpr std::size_t max_instructions = 4096;  // BPF_MAXINSNS

// Root's and writable by no one else: what a file must be for its program to be loaded
// into containers unchecked.
bool trusted(const struct stat& st) { return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0; }

// What besides the caller's inputs decides the program. The binary is named by its inode
// and change time, which every rebuild or reinstall of kiln changes.
std::string environment_key() {
    struct utsname u{};
    ::uname(&u);
    const scmp_version* v = seccomp_version();
    struct stat self{};
    ::stat("/proc/self/exe", &self);
    return std::string(u.release) + "\n" + u.version + "\nlibseccomp " + std::to_string(v->major) + "." +
           std::to_string(v->minor) + "." + std::to_string(v->micro) + "\nkiln " + std::to_string(self.st_dev) + ":" +
           std::to_string(self.st_ino) + ":" + std::to_string(self.st_size) + ":" +
           std::to_string(self.st_ctim.tv_sec) + "." + std::to_string(self.st_ctim.tv_nsec) + "\n";
}

std::optional<std::vector<sock_filter>> read_cached(const std::string& dir, const std::string& path) {
    struct stat st_dir{};
    if (::lstat(dir.c_str(), &st_dir) != 0 || !S_ISDIR(st_dir.st_mode) || !trusted(st_dir)) return std::nullopt;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::nullopt;
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !trusted(st)) return std::nullopt;
    auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0 || size % sizeof(sock_filter) != 0 || size / sizeof(sock_filter) > max_instructions)
        return std::nullopt;
    std::vector<sock_filter> program(size / sizeof(sock_filter));
    if (::pread(fd.get(), program.data(), size, 0) != static_cast<ssize_t>(size)) return std::nullopt;
    return program;
}

void store(const std::string& dir, const std::string& path, const std::vector<sock_filter>& program) {
    try {
        mkdir_p(dir);
        ::chmod(dir.c_str(), 0700);
        atomic_write(path,
                     std::string_view(reinterpret_cast<const char*>(program.data()), program.size() * sizeof(sock_filter)),
                     0600);
    } catch (const Error&) {
        // A read-only or full /run: the next process compiles again, which is only slower.
    }
}

}  // namespace

std::vector<sock_filter> cached_seccomp_program(const std::string& inputs,
                                                const std::function<std::vector<sock_filter>()>& compile,
                                                const std::string& dir) {
    const std::string path = dir + "/" + sha256_of(environment_key() + inputs).hex() + ".bpf";
    if (auto program = read_cached(dir, path)) return *program;
    auto program = compile();
    if (::geteuid() == 0) store(dir, path, program);
    return program;
}

}  // namespace kiln::runtime
