#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::image {

struct TarXattr {
    std::string name;
    std::string value;
};

// One tar entry's header fields, as kiln writes them (layer tars and image archives alike).
struct TarHeader {
    std::string name;  // tar path (directories end in '/')
    char type = '0';
    std::uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky
    std::uint64_t uid = 0, gid = 0, size = 0;
    std::int64_t mtime = 0;
    std::uint64_t devmajor = 0, devminor = 0;
    std::string linkname;
    std::vector<TarXattr> xattrs;
};

inline constexpr std::size_t kTarBlock = 512;

// Appends the header blocks of e to out: a PAX extended header first when a field does not
// fit ustar (long names, large sizes, xattrs), then the ustar block. Deterministic: the
// same fields always give the same bytes.
void append_tar_header(std::string& out, const TarHeader& e);

// Zero bytes that pad an entry of `size` data bytes to a whole block.
inline std::size_t tar_padding(std::uint64_t size) {
    std::size_t rem = static_cast<std::size_t>(size % kTarBlock);
    return rem ? kTarBlock - rem : 0;
}

}  // namespace kiln::image
