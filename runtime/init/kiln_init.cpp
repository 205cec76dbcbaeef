// kiln-init: the init of `kiln run --init` (Docker uses tini for this). It is bound
// read-only into the container at /sbin/docker-init and runs as pid 1:
//
//   /sbin/docker-init -- COMMAND [ARG...]
//
// It starts COMMAND as its only child, in a process group of its own that becomes the
// terminal's foreground group with -t; forwards every signal it receives to that child
// (a pid 1 without a handler would ignore SIGTERM: `kiln stop` would then need SIGKILL);
// reaps every process re-parented to it, so orphans do not stay zombies; and exits with
// the child's status (128+N when a signal ended it) once the child is gone.
//
// Static and libc only, so it runs in any image. It is a separate file from kiln itself:
// a container can reach its /proc/1/exe, and this one is read-only and not kiln.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

[[noreturn]] void run_child(char** argv, const sigset_t& original_mask) {
    ::setpgid(0, 0);
    if (::isatty(0)) {
        // tcsetpgrp from a background group raises SIGTTOU: ignored for the call.
        ::signal(SIGTTOU, SIG_IGN);
        ::tcsetpgrp(0, ::getpid());
        ::signal(SIGTTOU, SIG_DFL);
    }
    ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    ::execvp(argv[0], argv);
    int err = errno;
    std::fprintf(stderr, "kiln-init: exec %s failed: %s\n", argv[0], std::strerror(err));
    ::_exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    int first = 1;
    if (first < argc && std::strcmp(argv[first], "--") == 0) ++first;
    if (first >= argc) {
        std::fprintf(stderr, "usage: kiln-init -- COMMAND [ARG...]\n");
        return 2;
    }
    // Every signal is taken synchronously through sigtimedwait: no handler can interrupt
    // the reaping, and none is lost between the fork and the loop.
    sigset_t all, original;
    ::sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, &original);
    pid_t child = ::fork();
    if (child < 0) {
        std::perror("kiln-init: fork");
        return 1;
    }
    if (child == 0) run_child(argv + first, original);
    // The child's own setpgid may not have run yet; both calls make the same group.
    ::setpgid(child, child);

    for (;;) {
        // Reaped before every wait, not only on SIGCHLD, and the wait ends after a second
        // at most (as tini's does): one SIGCHLD stands for any number of exits, and an
        // orphan that was a zombie before it was re-parented here must not depend on the
        // notice that comes with the re-parenting.
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            if (pid == child) return status_code(status);
        }
        siginfo_t info;
        const timespec reap_interval{1, 0};
        int sig = ::sigtimedwait(&all, &info, &reap_interval);
        // To the child only, as tini does by default (the group gets what the terminal
        // sends it anyway). (sig < 0: EAGAIN after the interval, or EINTR.)
        if (sig > 0 && sig != SIGCHLD) ::kill(child, sig);
    }
}
