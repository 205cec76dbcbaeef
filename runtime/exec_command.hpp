#pragma once
// The last step of every container process: execvpe with the container's PATH and
// Docker's 126/127 rules, run by kiln-exec (runtime/hop/kiln_exec.cpp). kiln-exec is
// freestanding (no libc, so it is a few KiB to copy and exec instead of glibc's static
// 680), so this file calls nothing it does not define: the execve itself comes from the
// caller, which also lets the unit tests drive the search without running anything.
#include "runtime/child_report.hpp"

namespace kiln::runtime {

// An execve: returns only on failure, with the errno.
using ExecveFn = int (*)(const char* file, char* const argv[], char* const envp[]);

// Runs argv[0] (looked up in path when it has no '/') through execve. Returns only on
// failure, with the report filled: kind exec, 127 for a command not found, 126 for one not
// runnable, and the message `docker run` prints.
void exec_command(char* const argv[], char* const envp[], const char* path, ChildReport& report, ExecveFn execve);

// The text glibc's strerror gives errno err, for the errors an execve can end in, with a
// lower-case first letter as Go (and so `docker run`) prints them; nullptr for others.
const char* exec_error_text(int err);

}  // namespace kiln::runtime
