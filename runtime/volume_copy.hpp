#pragma once
// Docker's copy-up: a volume mounted over a directory of the image starts with that
// directory's contents (files, modes, owners, xattrs, times) when the volume is empty.
#include <string>

namespace kiln::runtime {

// Copies what the directory `path` of the tree at src_root_fd (resolved inside that tree,
// so its symlinks cannot lead out) holds into the directory dest, and gives dest the
// source directory's mode and owner. Nothing happens when path is missing or not a
// directory. Hard links are copied as separate files. Throws kiln::Error.
void copy_up(int src_root_fd, const std::string& path, const std::string& dest);

}  // namespace kiln::runtime
