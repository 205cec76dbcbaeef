#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "util/fd.hpp"

namespace kiln {

// Lexical cleaning like Go's path.Clean: collapses "//", removes ".", resolves ".." against
// earlier components (never above "/" for absolute paths). "" becomes ".".
std::string clean_path(std::string_view path);

// The non-empty components of a "/"-separated path: "/a//b/" → {"a", "b"}.
std::vector<std::string> split_path(std::string_view path);

// The one safe path join: root + rel, where rel is first cleaned as if it were absolute, so
// "..", "../../x" or "/etc" can never name anything outside root. Lexical only: to follow
// symlinks inside a tree, open through open_in_root().
std::string safe_join(std::string_view root, std::string_view rel);

// Opens rel beneath the directory rootfd, resolving "..", absolute symlinks and magic links
// as if rootfd were "/" (openat2 RESOLVE_IN_ROOT). Always O_CLOEXEC.
UniqueFd open_in_root(int rootfd, std::string_view rel, int flags, mode_t mode = 0);

UniqueFd open_directory(const std::string& path);

std::string read_file(const std::string& path);
// Up to cap bytes from fd (retrying EINTR); 0 at the end. `what` names it in errors.
std::size_t read_some(int fd, void* buf, std::size_t cap, const std::string& what);
// Everything left to read from fd; `what` names it in errors.
std::string read_all(int fd, const std::string& what);
// Writes all of data to fd (retrying short writes and EINTR).
void write_all(int fd, std::string_view data, const std::string& what);

// Whether an atomic_write must survive a crash of the machine, not only of the writer.
// `not_needed` is for files rebuilt on every use or mirrored from the store's database
// (a container's /etc files, its config.json) and for the state of live containers under
// /run/kiln (leases, bridge attachments, port rules), which a reboot ends anyway: they
// skip the two fsyncs (~4 ms each on a slow disk, ~0.3 ms here) while still being
// replaced atomically.
enum class Durability { durable, not_needed };

// The one atomic write: data goes to a temporary file in the same directory, is fsynced,
// then renamed over path; the directory is fsynced too. Readers see old or new, never half.
void atomic_write(const std::string& path, std::string_view data, mode_t mode = 0644,
                  Durability durability = Durability::durable);

// Renames a staged file or directory into place and makes the rename durable.
void durable_rename(const std::string& from, const std::string& to);
void fsync_path(const std::string& path);

void mkdir_p(const std::string& path);
// Removes a tree without following symlinks and without entering another filesystem (a
// mount found inside is an error, its files untouched); a missing path is not an error.
void remove_all(const std::string& path);
bool path_exists(const std::string& path);

// A fresh directory that is removed (recursively) when this object dies.
class TempDir {
public:
    // Creates a unique directory "<parent>/<prefix>XXXXXX".
    TempDir(const std::string& parent, const std::string& prefix);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Hands the directory over to the caller; it will not be removed.
    std::string release();

private:
    std::string path_;
};

}  // namespace kiln
