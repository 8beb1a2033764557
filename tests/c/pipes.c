/* Pipes within one process (pipe(7)): pipe/pipe2 flags, read/write, EOF, EPIPE, O_NONBLOCK,
 * capacity (F_GETPIPE_SZ/F_SETPIPE_SZ), FIONREAD, fstat, /proc/self/fd names, O_DIRECT packets.
 * Prints one line per case; the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

int main(void) {
    int p[2];
    char buf[70000];
    long r;

    r = pipe(p);
    printf("pipe=%s\n", err(r));
    printf("flags r=%o w=%o\n", fcntl(p[0], F_GETFL) & ~O_LARGEFILE, fcntl(p[1], F_GETFL) & ~O_LARGEFILE);
    r = write(p[1], "hello", 5);
    printf("write=%ld\n", r);
    int avail = -1;
    ioctl(p[0], FIONREAD, &avail);
    printf("fionread=%d\n", avail);
    r = read(p[0], buf, sizeof buf);
    printf("read=%ld %.5s\n", r, buf);
    r = read(p[1], buf, 1);
    printf("read write end=%s\n", err(r));
    r = write(p[0], "x", 1);
    printf("write read end=%s\n", err(r));
    r = lseek(p[0], 0, SEEK_CUR);
    printf("lseek=%s\n", err(r));
    struct stat st0, st1;
    fstat(p[0], &st0);
    fstat(p[1], &st1);
    printf("fifo=%d same_ino=%d mode=%o size=%ld\n", S_ISFIFO(st0.st_mode), st0.st_ino == st1.st_ino,
           st0.st_mode & 0777, (long)st0.st_size);
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    char want[64];
    snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)st0.st_ino);
    printf("proc link matches=%d\n", strcmp(link, want) == 0);
    printf("getpipe_sz=%d\n", fcntl(p[0], F_GETPIPE_SZ));
    close(p[1]);
    r = read(p[0], buf, 10);
    printf("eof read=%ld\n", r);
    close(p[0]);

    /* EPIPE with SIGPIPE ignored. */
    signal(SIGPIPE, SIG_IGN);
    pipe(p);
    close(p[0]);
    r = write(p[1], "x", 1);
    printf("no reader write=%s\n", err(r));
    close(p[1]);

    /* pipe2 flags. */
    r = pipe2(p, O_CLOEXEC | O_NONBLOCK);
    printf("pipe2=%s cloexec=%d nonblock=%d\n", err(r), fcntl(p[0], F_GETFD) & FD_CLOEXEC,
           (fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
    r = read(p[0], buf, 1);
    printf("empty nonblock read=%s\n", err(r));
    long total = 0;
    memset(buf, 'a', sizeof buf);
    for (;;) {
        r = write(p[1], buf, 1000);
        if (r < 0) break;
        total += r;
    }
    printf("filled=%ld then %s\n", total, err(r));
    ioctl(p[0], FIONREAD, &avail);
    printf("fionread=%d\n", avail);
    r = fcntl(p[1], F_SETPIPE_SZ, 4096);
    printf("shrink below content=%s\n", err(r));
    while (read(p[0], buf, sizeof buf) > 0) {}
    r = fcntl(p[1], F_SETPIPE_SZ, 5000);
    printf("setpipe_sz 5000=%ld get=%d\n", r, fcntl(p[0], F_GETPIPE_SZ));
    total = 0;
    for (;;) {
        r = write(p[1], buf, 3000);
        if (r < 0) break;
        total += r;
    }
    printf("filled small=%ld then %s\n", total, err(r));
    r = write(p[1], buf, 10000);
    printf("big write into full=%s\n", err(r));
    while (read(p[0], buf, sizeof buf) > 0) {}
    r = write(p[1], buf, 10000);
    printf("big partial write=%ld\n", r);
    close(p[0]);
    close(p[1]);

    r = pipe2(p, 0x1000000);
    printf("pipe2 bad flags=%s\n", err(r));
    r = syscall(SYS_pipe, 8L);
    printf("pipe bad pointer=%s\n", err(r));

    /* Packet mode. */
    r = pipe2(p, O_DIRECT | O_NONBLOCK);
    printf("pipe2 direct=%s\n", err(r));
    write(p[1], "abc", 3);
    write(p[1], "defgh", 5);
    r = read(p[0], buf, sizeof buf);
    printf("packet1=%ld\n", r);
    r = read(p[0], buf, 2);
    printf("packet2=%ld %.2s\n", r, buf);
    r = read(p[0], buf, sizeof buf);
    printf("after packets=%s\n", err(r));
    return 0;
}
