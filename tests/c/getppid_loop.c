/* Makes N getppid(2) calls (N = argv[1], default 0) through syscall(2), so that no libc cache
 * can answer: the benchmark of one trapped syscall round trip. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return 0;
}
