#pragma once
// `--tmpfs PATH[:OPTIONS]`: a tmpfs at PATH with Docker's defaults (noexec, nosuid, nodev;
// the kernel's mode 1777 and size of half the memory) and the options given on top of them:
// the flags rw/ro, exec/noexec, suid/nosuid, dev/nodev, atime/noatime/relatime/strictatime
// and the tmpfs data options size=, mode=, uid=, gid=, nr_inodes=, nr_blocks=.
#include <string>
#include <utility>

namespace kiln::runtime {

struct TmpfsMount {
    std::string destination;
    unsigned long flags = 0;  // MS_*
    std::string data;         // "mode=1777,size=64m", for mount(2)
};

// PATH and OPTIONS (possibly empty) of a --tmpfs value, as HostConfig.Tmpfs holds them.
// Throws kiln::Error for a relative or empty path.
std::pair<std::string, std::string> split_tmpfs_flag(const std::string& text);

// The mount for one HostConfig.Tmpfs entry. Throws kiln::Error for an unknown option or a
// bad value.
TmpfsMount tmpfs_mount(const std::string& path, const std::string& options);

}  // namespace kiln::runtime
