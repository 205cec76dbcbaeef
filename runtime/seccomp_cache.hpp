#pragma once
// Compiled seccomp programs kept between kiln processes. libseccomp takes about 3 ms to
// compile Docker's profile: a fifth of a container start. The program depends only on the
// profile, the capabilities, the kernel (minKernel rules), libseccomp and kiln itself, so
// it is compiled once per boot and read back (tens of microseconds) after that.
#include <linux/filter.h>

#include <functional>
#include <string>
#include <vector>

namespace kiln::runtime {

// The program for `inputs` (a description of the profile and capabilities the caller
// compiles for) from /run/kiln/seccomp, or compile() and store it there. The key also
// covers the running kernel, libseccomp's version and this kiln binary, so nothing built
// by another kiln or for another kernel is ever used. Files are trusted only when they
// and their directory belong to root and nobody else can write them; otherwise (or when
// /run/kiln is not usable) the program is compiled and not stored.
// `dir` is for tests.
std::vector<sock_filter> cached_seccomp_program(const std::string& inputs,
                                                const std::function<std::vector<sock_filter>()>& compile,
                                                const std::string& dir = "/run/kiln/seccomp");

}  // namespace kiln::runtime
