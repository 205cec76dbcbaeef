#include "util/dir_list.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <memory>
#include <string_view>

#include "util/error.hpp"
#include "util/fd.hpp"

namespace kiln {

std::vector<std::string> list_names(int dirfd, const std::string& what) {
    UniqueFd dup(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dup) throw_errno("open " + what);
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup.get()), ::closedir);
    if (!dir) throw_errno("open " + what);
    dup.release();
    std::vector<std::string> names;
    while (dirent* d = ::readdir(dir.get())) {
        std::string_view n = d->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    return names;
}

}  // namespace kiln
