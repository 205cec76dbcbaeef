#include "runtime/exec_hop.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "util/error.hpp"
#include "util/fd.hpp"

// From `ld -r -b binary kiln-exec` (CMakeLists.txt).
extern "C" const char _binary_kiln_exec_start[];
extern "C" const char _binary_kiln_exec_end[];

namespace kiln::runtime {

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

UniqueFd make_sealed_hop() {
    // Kernels since 6.3 want the memfd's exec permission said out loud; older ones
    // refuse the flag, and every memfd is executable there.
    UniqueFd fd(::memfd_create("kiln-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
    if (!fd && errno == EINVAL) fd.reset(::memfd_create("kiln-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) throw_errno("memfd_create for kiln-exec");
    const char* data = _binary_kiln_exec_start;
    std::size_t left = static_cast<std::size_t>(_binary_kiln_exec_end - _binary_kiln_exec_start);
    while (left > 0) {
        ssize_t n = ::write(fd.get(), data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("write kiln-exec into its memfd");
        data += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        throw_errno("seal kiln-exec's memfd");
    return fd;
}

}  // namespace

int exec_hop_fd() {
    static const UniqueFd hop = make_sealed_hop();
    return hop.get();
}

}  // namespace kiln::runtime
