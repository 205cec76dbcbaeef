#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace kiln::image {

// One entry of an uncompressed tar file, found without reading its data.
struct TarMember {
    char type = '0';            // '0' file, '5' directory, '2' symlink, '1' hardlink
    std::uint64_t offset = 0;   // where its data starts in the file
    std::uint64_t size = 0;
    std::string link;           // symlink target or hardlink name
};

// The table of contents of an uncompressed tar file (an image archive), read once by
// walking the headers and seeking over the data, so a member can later be read in place
// with pread and a 2 GB archive is never copied. Understands ustar, PAX ('x') and GNU long
// names ('L', 'K'). Names are cleaned ("./a//b" → "a/b"). Hostile input is refused with
// kiln::Error: bad checksums, sizes beyond the end of the file (a truncated archive), two
// entries with the same name.
class TarIndex {
public:
    static TarIndex read(int fd, std::uint64_t file_size);

    const TarMember* find(const std::string& name) const;
    // The regular file `name` names, following symlinks (relative to the link's folder, or
    // to the archive root when absolute) and hardlinks, at most 16 of them. Returns the
    // member and its resolved name; nullopt when there is no such file.
    std::optional<std::pair<std::string, TarMember>> resolve(const std::string& name) const;
    const std::map<std::string, TarMember>& members() const { return members_; }

private:
    std::map<std::string, TarMember> members_;
};

// "./a//b/" → "a/b"; "" for the root. Never leaves the archive: ".." stops at the root.
std::string clean_member_name(const std::string& name);

}  // namespace kiln::image
