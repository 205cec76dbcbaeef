#pragma once
// Docker's seccomp profile JSON (`docker run --security-opt seccomp=FILE`) → SeccompProfile.
// The file is untrusted: anything Docker would refuse, and anything that would silently
// widen the filter (a misspelt key, an unknown action, a capability kiln cannot name), is a
// kiln::Error naming the file and the entry. Unknown syscall names are kept: the compiler
// skips those libseccomp does not know, as Docker and runc do.
#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

// Docker's default profile is 13 KiB; anything near this is not a profile.
constexpr std::size_t seccomp_profile_max_size = std::size_t{4} << 20;

// `source_name` is the file name the errors mention.
SeccompProfile parse_seccomp_profile(std::string_view json, const std::string& source_name);

// Reads and parses a profile file, refusing one larger than seccomp_profile_max_size.
SeccompProfile load_seccomp_profile(const std::string& path);

}  // namespace kiln::runtime
