#pragma once
#include <string>
#include <vector>

namespace kiln {

// The names in the directory dirfd, without "." and "..", in readdir order; `what` names it
// in errors.
std::vector<std::string> list_names(int dirfd, const std::string& what);

}  // namespace kiln
