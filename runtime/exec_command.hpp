#pragma once
// The last step of every container process: execvpe with the container's PATH and
// Docker's 126/127 rules. Shared by kiln's setup child and kiln-exec (exec_hop.hpp), so
// it allocates nothing and needs only libc.
#include "runtime/child_report.hpp"

namespace kiln::runtime {

// Runs argv[0] (looked up in path when it has no '/'). Returns only on failure, with the
// report filled: kind exec, 127 for a command not found, 126 for one not runnable, and
// the message `docker run` prints.
void exec_command(char* const argv[], char* const envp[], const char* path, ChildReport& report);

}  // namespace kiln::runtime
