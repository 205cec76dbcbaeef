#include "runtime/cid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/error.hpp"

namespace kiln::runtime {

CidFile::CidFile(const std::string& path) : path_(path) {
    if (path_.empty()) return;
    fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd_) return;
    if (errno == EEXIST)
        throw Error("Container ID file found, make sure the other container isn't running or delete " + path_);
    throw_errno("failed to create the container ID file " + path_);
}

CidFile::~CidFile() {
    if (!path_.empty() && !kept_) ::unlink(path_.c_str());
}

void CidFile::write(const std::string& id) {
    if (!fd_) return;
    std::string_view data = id;
    while (!data.empty()) {
        ssize_t n = ::write(fd_.get(), data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("failed to write the container ID to " + path_);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    fd_.reset();
}

}  // namespace kiln::runtime
