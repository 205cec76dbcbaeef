// A tiny static program that integration tests copy into containers to make the calls an
// attacker would make, where busybox has no applet for them. Each subcommand prints one
// line, "ok RESULT" or "errno N", and exits 0, so a test reads what the kernel answered.
//
//   kiln-probe syscall NR [ARG...]   raw syscall(NR, ARG...); ARGs as strtoul base 0
//   kiln-probe tiocsti FD TEXT       push TEXT into the input queue of the terminal on FD
//   kiln-probe alloc MIB             malloc MIB MiB and touch every page ("ok MIB" if it lives)
//   kiln-probe forkbomb              every process forks forever, going on when fork fails
//   kiln-probe hunt-exe DEV:INO[,DEV:INO...] SECONDS
//                                    CVE-2019-5736: for SECONDS, open /proc/PID/exe of every
//                                    other process (O_PATH) and, where it is one of the given
//                                    files, try to reopen it for writing through
//                                    /proc/self/fd/N, also after that process exits. Never
//                                    writes. Prints "seen N" (targets reached) and
//                                    "writable N" (writable opens got), one line each.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

static int do_alloc(const char* mib_text) {
    long mib = strtol(mib_text, NULL, 10);
    if (mib <= 0) return 2;
    size_t size = (size_t)mib << 20;
    char* block = malloc(size);
    if (!block) return report(-1);
    for (size_t i = 0; i < size; i += 4096) block[i] = 1;
    printf("ok %ld\n", mib);
    return 0;
}

__attribute__((noreturn)) static void forkbomb(void) {
    for (;;)
        if (fork() < 0) usleep(1000);  // at the pids limit: try again, as a bomb does
}

#define MAX_TARGETS 8
#define MAX_HELD 256

struct target {
    dev_t dev;
    ino_t ino;
};

static int parse_targets(char* text, struct target* targets) {
    int n = 0;
    for (char* item = strtok(text, ","); item && n < MAX_TARGETS; item = strtok(NULL, ",")) {
        char* colon = strchr(item, ':');
        if (!colon) return -1;
        targets[n].dev = (dev_t)strtoull(item, NULL, 10);
        targets[n].ino = (ino_t)strtoull(colon + 1, NULL, 10);
        ++n;
    }
    return n;
}

static int is_target(int fd, const struct target* targets, int count) {
    struct stat st;
    if (fstat(fd, &st) != 0) return 0;
    for (int i = 0; i < count; ++i)
        if (st.st_dev == targets[i].dev && st.st_ino == targets[i].ino) return 1;
    return 0;
}

// One try to open a held O_PATH descriptor for writing, the way the exploit did.
static int reopen_writable(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w < 0) return 0;
    close(w);
    return 1;
}

static int do_hunt_exe(char* targets_text, const char* seconds_text) {
    struct target targets[MAX_TARGETS];
    int count = parse_targets(targets_text, targets);
    if (count <= 0) return 2;
    int held[MAX_HELD];
    pid_t held_pid[MAX_HELD];
    int held_count = 0;
    long seen = 0, writable = 0;
    const pid_t self = getpid();
    const time_t end = time(NULL) + strtol(seconds_text, NULL, 10);
    while (time(NULL) < end) {
        DIR* proc = opendir("/proc");
        if (!proc) return report(-1);
        struct dirent* entry;
        while ((entry = readdir(proc)) != NULL) {
            pid_t pid = (pid_t)strtol(entry->d_name, NULL, 10);
            int already = pid <= 0 || pid == self;
            for (int i = 0; i < held_count && !already; ++i) already = held_pid[i] == pid;
            if (already) continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
            int w = open(path, O_WRONLY | O_CLOEXEC);
            if (w >= 0) {
                if (is_target(w, targets, count)) ++writable;
                close(w);
            }
            int fd = open(path, O_PATH | O_CLOEXEC);
            if (fd < 0) continue;
            if (!is_target(fd, targets, count) || held_count == MAX_HELD) {
                close(fd);
                continue;
            }
            ++seen;
            held_pid[held_count] = pid;
            held[held_count++] = fd;
        }
        closedir(proc);
        // While the process runs its binary is busy (ETXTBSY); once it has exited the
        // held descriptor is the way in.
        for (int i = 0; i < held_count; ++i) writable += reopen_writable(held[i]);
    }
    printf("seen %ld\nwritable %ld\n", seen, writable);
    fflush(stdout);
    return 0;
}

// Holds an exclusive flock on path until killed: what a container does to stall whoever
// waits for that lock on the host.
static int do_flock(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        perror(path);
        return 1;
    }
    printf("locked\n");
    fflush(stdout);
    for (;;) pause();
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "syscall") == 0) return do_syscall(argc - 2, argv + 2);
    if (argc >= 4 && strcmp(argv[1], "tiocsti") == 0) return do_tiocsti(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "alloc") == 0) return do_alloc(argv[2]);
    if (argc == 2 && strcmp(argv[1], "forkbomb") == 0) forkbomb();
    if (argc == 3 && strcmp(argv[1], "flock") == 0) return do_flock(argv[2]);
    if (argc == 4 && strcmp(argv[1], "hunt-exe") == 0) return do_hunt_exe(argv[2], argv[3]);
    fprintf(stderr, "usage: kiln-probe syscall NR [ARG...] | tiocsti FD TEXT | alloc MIB | forkbomb | "
                    "flock PATH | hunt-exe DEV:INO[,DEV:INO...] SECONDS\n");
    return 2;
}
