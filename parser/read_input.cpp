#include "parser/read_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "parser/parse.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/fs.hpp"

namespace kiln::parser {

namespace {
// First buffer for an input whose size fstat cannot tell (a pipe, a terminal).
constexpr std::size_t kStreamChunk = 64u << 10;
}  // namespace

std::string read_dockerfile_input(const std::string& path) {
    UniqueFd owned;
    int fd = STDIN_FILENO;
    if (path != "-") {
        owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!owned) throw Error("cannot read " + path + ": " + std::strerror(errno));
        fd = owned.get();
    }
    const std::string what = path == "-" ? "standard input" : path;
    const std::size_t limit = kMaxDockerfileSize + 1;
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Error("cannot read " + what + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error("cannot read " + what + ": is a directory");
    // A regular file is read in one buffer of its size (one spare byte shows it did not
    // grow meanwhile); anything else starts small and doubles, so a two-line Dockerfile
    // never costs the 64 MiB limit.
    std::size_t capacity = S_ISREG(st.st_mode)
                               ? std::min(static_cast<std::size_t>(st.st_size) + 1, limit)
                               : kStreamChunk;
    std::string text(capacity, '\0');
    std::size_t size = 0;
    for (;;) {
        if (size == text.size()) {
            if (text.size() >= limit) break;
            text.resize(std::min(text.size() * 2, limit));
        }
        const std::size_t n = read_some(fd, text.data() + size, text.size() - size, what);
        if (n == 0) break;
        size += n;
    }
    text.resize(size);
    return text;
}

}  // namespace kiln::parser
