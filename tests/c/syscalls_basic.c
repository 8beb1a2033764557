/* Basic syscalls whose visible results must be the same natively and in the sandbox: process
 * ids (their signs only: the sandbox's init is pid 1 with parent 0), uname, getcwd, clocks,
 * reading a file, anonymous mmap/munmap and brk. Prints one "name=value" line each; exits 0
 * when every check ran, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void check(const char *name, int ok) {
    printf("%s=%s\n", name, ok ? "ok" : "FAILED");
    if (!ok)
        failed = 1;
}

int main(void) {
    struct utsname u;
    struct timespec a, b, r;
    char cwd[4096];
    char buf[256];

    check("getpid_positive", getpid() > 0);
    check("getppid_nonnegative", getppid() >= 0);

    if (uname(&u) == 0) {
        printf("uname_sysname=%s\nuname_machine=%s\nuname_nodename=%s\n", u.sysname, u.machine,
               u.nodename);
    } else {
        check("uname", 0);
    }

    if (getcwd(cwd, sizeof cwd) != NULL)
        printf("getcwd=%s\n", cwd);
    else
        check("getcwd", 0);

    check("clock_gettime",
          clock_gettime(CLOCK_MONOTONIC, &a) == 0 && clock_gettime(CLOCK_MONOTONIC, &b) == 0 &&
              clock_gettime(CLOCK_REALTIME, &r) == 0);
    check("clock_monotonic_nondecreasing",
          b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
    check("clock_realtime_after_2020", r.tv_sec > 1577836800);

    int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n >= 0) {
            buf[n] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            printf("etc_hostname=%s\n", buf);
        } else {
            check("read_etc_hostname", 0);
        }
    } else {
        printf("etc_hostname=<%s>\n", strerror(errno));
    }

    size_t len = 3 * 4096;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        int zero = p[0] == 0 && p[len - 1] == 0;
        memset(p, 0xab, len);
        check("mmap_anonymous", zero && p[len / 2] == 0xab);
        check("munmap", munmap(p, len) == 0);
    } else {
        check("mmap_anonymous", 0);
    }

    char *cur = sbrk(0);
    if (cur != (void *)-1 && brk(cur + 8192) == 0) {
        memset(cur, 0x5a, 8192);
        check("brk_grow", cur[8191] == 0x5a);
        check("brk_shrink", brk(cur) == 0 && sbrk(0) == cur);
    } else {
        check("brk_grow", 0);
    }

    return failed;
}
