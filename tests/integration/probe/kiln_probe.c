// A tiny static program that integration tests copy into containers to make the calls an
// attacker would make, where busybox has no applet for them. Each subcommand prints one
// line, "ok RESULT" or "errno N", and exits 0, so a test reads what the kernel answered.
//
//   kiln-probe syscall NR [ARG...]   raw syscall(NR, ARG...); ARGs as strtoul base 0
//   kiln-probe tiocsti FD TEXT       push TEXT into the input queue of the terminal on FD
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long rc) {
    if (rc < 0)
        printf("errno %d\n", errno);
    else
        printf("ok %ld\n", rc);
    return 0;
}

static int do_syscall(int argc, char** argv) {
    unsigned long a[6] = {0};
    long nr = strtol(argv[0], NULL, 0);
    for (int i = 1; i < argc && i <= 6; ++i) a[i - 1] = strtoul(argv[i], NULL, 0);
    errno = 0;
    return report(syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}

static int do_tiocsti(int argc, char** argv) {
    if (argc < 2) return 2;
    int fd = atoi(argv[0]);
    for (const char* p = argv[1]; *p; ++p)
        if (ioctl(fd, TIOCSTI, p) != 0) return report(-1);
    return report(0);
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "syscall") == 0) return do_syscall(argc - 2, argv + 2);
    if (argc >= 4 && strcmp(argv[1], "tiocsti") == 0) return do_tiocsti(argc - 2, argv + 2);
    fprintf(stderr, "usage: kiln-probe syscall NR [ARG...] | tiocsti FD TEXT\n");
    return 2;
}
