/* /proc/self/auxv (proc(5)): the auxiliary vector the program started with, as (type, value)
 * pairs ending with AT_NULL; every entry agrees with getauxval(3) (but AT_HWCAP). Prints relations only (the
 * values are addresses and random bytes); the sandbox must print the same. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(void) {
    unsigned long v[256];
    int fd = open("/proc/self/auxv", O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    long n = read(fd, v, sizeof v);
    close(fd);
    long pairs = n / 16;
    int agree = 1, ended = 0, have_random = 0, have_pagesz = 0, have_entry = 0;
    for (long i = 0; i < pairs; i++) {
        unsigned long type = v[2 * i], value = v[2 * i + 1];
        if (type == AT_NULL) {
            ended = i == pairs - 1;
            break;
        }
        /* glibc answers AT_HWCAP with its own x86 feature word, not the kernel's. */
        if (type != AT_HWCAP && getauxval(type) != value) agree = 0;
        if (type == AT_RANDOM) have_random = 1;
        if (type == AT_PAGESZ) have_pagesz = value == 4096;
        if (type == AT_ENTRY) have_entry = value != 0;
    }
    printf("whole pairs=%d ends with AT_NULL=%d\n", n % 16 == 0 && n > 0, ended);
    printf("agrees with getauxval=%d\n", agree);
    printf("AT_RANDOM=%d AT_PAGESZ 4096=%d AT_ENTRY=%d\n", have_random, have_pagesz, have_entry);
    printf("uid matches=%d\n", getauxval(AT_UID) == (unsigned long)getuid());
    return 0;
}
