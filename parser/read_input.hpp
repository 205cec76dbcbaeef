#pragma once
#include <string>

namespace kiln::parser {

// The bytes of a Dockerfile at `path` ("-" reads stdin), read into a buffer sized from
// fstat (growing for pipes), never more than one byte past kMaxDockerfileSize so that
// parse_dockerfile refuses an oversized input with its own message. Throws kiln::Error
// naming the path when it cannot be opened or read.
std::string read_dockerfile_input(const std::string& path);

}  // namespace kiln::parser
