/* Simple trapped syscalls in a loop, for the per-syscall rows of the side-by-side runner:
 * `sysloop KIND N` makes N iterations of KIND (default 0), each through syscall(2) so that
 * neither libc nor the vDSO can answer (but one):
 *   getpid  one getpid(2)
 *   libc-getppid  one getppid(3) through libc's wrapper, `mov $110, %eax; syscall` (glibc caches
 *           nothing for it): the shape systrap's syscall patching rewrites
 *   clock   one clock_gettime(CLOCK_MONOTONIC) (the path of a vDSO miss)
 *   pipe    write(2) of 1 byte into a pipe and read(2) of it back (two syscalls)
 * Exits 1 on a bad KIND or a failing call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *kind = argc > 1 ? argv[1] : "getpid";
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (strcmp(kind, "getpid") == 0) {
        for (long i = 0; i < n; i++)
            syscall(SYS_getpid);
    } else if (strcmp(kind, "libc-getppid") == 0) {
        for (long i = 0; i < n; i++)
            getppid();
    } else if (strcmp(kind, "clock") == 0) {
        struct timespec ts;
        for (long i = 0; i < n; i++)
            if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
                return 1;
    } else if (strcmp(kind, "pipe") == 0) {
        int fds[2];
        char c = 'x';
        if (pipe(fds) != 0)
            return 1;
        for (long i = 0; i < n; i++)
            if (syscall(SYS_write, fds[1], &c, 1) != 1 || syscall(SYS_read, fds[0], &c, 1) != 1)
                return 1;
    } else {
        fprintf(stderr, "sysloop: unknown kind %s\n", kind);
        return 1;
    }
    return 0;
}
