// kiln-exec: the last hop of every container process (runc's answer to CVE-2019-5736).
// kiln's setup child is kiln's own binary until it execs, and an execve inside the
// container can run whatever binary does it (an image whose /bin/sh is
// "#!/proc/self/exe"): that would be kiln's, dumpable and in the container's reach, whose
// /proc/PID/exe a container process can hold and reopen for writing. So the setup child
// execs this program instead, from a sealed memfd (exec_hop.hpp), and this program execs
// the container's command; its own /proc/self/exe is that memfd, which nobody can write.
//
//   kiln-exec REPORT_FD COMMAND [ARG...]      (environment: the container's)
//
// On failure it sends kiln the setup report (child_report.hpp) on REPORT_FD and exits
// 126 or 127, exactly as the setup child would have. Static and libc only.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "runtime/child_report.hpp"
#include "runtime/exec_command.hpp"

int main(int argc, char** argv) {
    if (argc < 3) return 125;
    const int report_fd = std::atoi(argv[1]);
    // The command starts with stdio only.
    if (::fcntl(report_fd, F_SETFD, FD_CLOEXEC) != 0) return 125;
    kiln::runtime::ChildReport report;
    kiln::runtime::exec_command(argv + 2, environ, std::getenv("PATH"), report);
    [[maybe_unused]] ssize_t n = ::write(report_fd, &report, sizeof report);
    return report.exit_code;
}
