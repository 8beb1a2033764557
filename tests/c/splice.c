/* splice(2), tee(2), vmsplice(2): pipe to pipe, pipe to and from files (argv[1]: a tmpfs
 * directory, argv[2]: a directory on the root file system) and sockets, the offset rules
 * (ESPIPE/EINVAL), SPLICE_F_NONBLOCK, and tee copying without consuming. Prints one line per
 * case; the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s=%s\n", what, strerrorname_np(errno));
    else
        printf("%s=%ld\n", what, r);
}

static int avail(int fd) {
    int n = -1;
    ioctl(fd, FIONREAD, &n);
    return n;
}

static void drain(const char *what, int fd) {
    char b[256];
    long n = read(fd, b, sizeof b - 1);
    b[n > 0 ? n : 0] = 0;
    printf("%s read=%ld '%s'\n", what, n, b);
}

static void files(const char *dir, const char *tag) {
    char path[4096];
    int p[2];
    loff_t off;
    long r;
    snprintf(path, sizeof path, "%s/splice_test.%d", dir, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    printf("%s open=%s\n", tag, err(fd));
    write(fd, "0123456789", 10);
    lseek(fd, 0, SEEK_SET);
    pipe(p);

    off = 3;
    r = splice(fd, &off, p[1], NULL, 4, 0);
    printf("%s file->pipe off: r=%ld off=%ld pos=%ld\n", tag, r, (long)off, (long)lseek(fd, 0, SEEK_CUR));
    drain(tag, p[0]);
    r = splice(fd, NULL, p[1], NULL, 2, 0);
    printf("%s file->pipe pos: r=%ld pos=%ld\n", tag, r, (long)lseek(fd, 0, SEEK_CUR));
    drain(tag, p[0]);
    off = 10;
    show("file at eof", splice(fd, &off, p[1], NULL, 4, 0));
    off = -1;
    show("negative off", splice(fd, &off, p[1], NULL, 4, 0));

    write(p[1], "XYZ", 3);
    off = 2;
    r = splice(p[0], NULL, fd, &off, 10, 0);
    char buf[32] = {0};
    pread(fd, buf, 10, 0);
    printf("%s pipe->file off: r=%ld off=%ld content=%s pos=%ld\n", tag, r, (long)off, buf,
           (long)lseek(fd, 0, SEEK_CUR));
    write(p[1], "ab", 2);
    lseek(fd, 0, SEEK_END);
    r = splice(p[0], NULL, fd, NULL, 10, SPLICE_F_MOVE | SPLICE_F_MORE);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 20, 0);
    printf("%s pipe->file pos: r=%ld content=%s pos=%ld\n", tag, r, buf, (long)lseek(fd, 0, SEEK_CUR));
    show("empty pipe nonblock", splice(p[0], NULL, fd, NULL, 10, SPLICE_F_NONBLOCK));

    /* A big transfer through a pipe into a file and back. */
    static char big[200000], back[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    ftruncate(fd, 0);
    lseek(fd, 0, SEEK_SET);
    long moved = 0;
    off = 0;
    while (moved < (long)sizeof big) {
        long w = write(p[1], big + moved, sizeof big - moved < 65536 ? sizeof big - moved : 65536);
        long k = 0;
        while (k < w) {
            long s = splice(p[0], NULL, fd, NULL, w - k, 0);
            if (s <= 0)
                break;
            k += s;
        }
        moved += k;
    }
    pread(fd, back, sizeof back, 0);
    printf("%s big: moved=%ld same=%d\n", tag, moved, memcmp(big, back, sizeof big) == 0);
    close(fd);

    int ro = open(path, O_RDONLY);
    write(p[1], "q", 1);
    show("to read-only file", splice(p[0], NULL, ro, NULL, 1, 0));
    close(ro);
    int ap = open(path, O_WRONLY | O_APPEND);
    show("to O_APPEND file", splice(p[0], NULL, ap, NULL, 1, 0));
    close(ap);
    unlink(path);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv) {
    int a[2], b[2], s[2];
    long r;
    signal(SIGPIPE, SIG_IGN);
    if (argc < 3) {
        fprintf(stderr, "usage: splice TMPFS_DIR ROOT_DIR\n");
        return 2;
    }
    pipe(a);
    pipe(b);

    write(a[1], "hello world", 11);
    show("pipe->pipe", splice(a[0], NULL, b[1], NULL, 5, 0));
    printf("left a=%d b=%d\n", avail(a[0]), avail(b[0]));
    drain("b", b[0]);
    show("tee", tee(a[0], b[1], 100, 0));
    printf("after tee a=%d b=%d\n", avail(a[0]), avail(b[0]));
    drain("b", b[0]);
    drain("a", a[0]);
    show("tee empty nonblock", tee(a[0], b[1], 100, SPLICE_F_NONBLOCK));
    show("splice empty nonblock", splice(a[0], NULL, b[1], NULL, 100, SPLICE_F_NONBLOCK));
    show("tee same pipe", tee(a[0], a[1], 100, 0));
    show("splice same pipe", splice(a[0], NULL, a[1], NULL, 100, 0));
    show("tee bad flags", tee(a[0], b[1], 100, 0x100));
    show("splice bad flags", splice(a[0], NULL, b[1], NULL, 100, 0x100));
    show("splice len 0", splice(a[0], NULL, b[1], NULL, 0, 0));
    show("splice bad fd", splice(99, NULL, b[1], NULL, 1, 0));
    show("tee write end", tee(a[1], b[1], 1, 0));
    loff_t off = 0;
    show("pipe offset in", splice(a[0], &off, b[1], NULL, 1, 0));
    show("pipe offset out", splice(a[0], NULL, b[1], &off, 1, 0));

    /* Filling the destination: a nonblocking splice into a full pipe. */
    fcntl(b[1], F_SETPIPE_SZ, 4096);
    static char page[4096];
    write(b[1], page, sizeof page);
    write(a[1], "x", 1);
    show("into full nonblock", splice(a[0], NULL, b[1], NULL, 1, SPLICE_F_NONBLOCK));
    show("tee into full nonblock", tee(a[0], b[1], 1, SPLICE_F_NONBLOCK));
    read(b[0], page, sizeof page);
    show("into drained", splice(a[0], NULL, b[1], NULL, 10, 0));
    drain("b", b[0]);

    /* EOF and EPIPE. */
    close(a[1]);
    show("splice eof", splice(a[0], NULL, b[1], NULL, 10, 0));
    show("tee eof", tee(a[0], b[1], 10, 0));
    close(a[0]);
    pipe(a);
    write(a[1], "z", 1);
    close(b[0]);
    show("splice epipe", splice(a[0], NULL, b[1], NULL, 10, 0));
    close(b[1]);

    /* Neither side a pipe. */
    int f1 = open("/etc/passwd", O_RDONLY), f2 = open("/dev/null", O_WRONLY);
    show("file->file", splice(f1, NULL, f2, NULL, 10, 0));
    show("tee files", tee(f1, f2, 10, 0));
    /* A file of the lower layer (the host's /etc/passwd) into a pipe. */
    pipe(b);
    off = 0;
    r = splice(f1, &off, b[1], NULL, 4, 0);
    printf("passwd->pipe r=%ld off=%ld\n", r, (long)off);
    drain("passwd", b[0]);
    close(f1);
    close(f2);

    /* Sockets. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    show("socket empty nonblock", splice(s[0], NULL, b[1], NULL, 100, SPLICE_F_NONBLOCK));
    write(s[1], "from socket", 11);
    show("socket->pipe", splice(s[0], NULL, b[1], NULL, 100, 0));
    drain("pipe", b[0]);
    write(b[1], "to socket", 9);
    show("pipe->socket", splice(b[0], NULL, s[1], NULL, 100, SPLICE_F_MORE));
    drain("socket", s[0]);
    off = 0;
    show("socket with offset", splice(s[0], &off, b[1], NULL, 100, 0));
    write(b[1], "k", 1);
    show("pipe->socket offset", splice(b[0], NULL, s[1], &off, 100, 0));
    close(s[0]);
    close(s[1]);

    /* vmsplice. */
    char x1[] = "vm", x2[] = "splice";
    struct iovec iov[2] = {{x1, 2}, {x2, 6}};
    show("vmsplice write", vmsplice(b[1], iov, 2, 0));
    char y1[3] = {0}, y2[8] = {0};
    struct iovec out[2] = {{y1, 2}, {y2, 7}};
    r = vmsplice(b[0], out, 2, 0);
    printf("vmsplice read=%ld '%s' '%s'\n", r, y1, y2);
    show("vmsplice read empty nonblock", vmsplice(b[0], out, 2, SPLICE_F_NONBLOCK));
    show("vmsplice zero segs", vmsplice(b[1], iov, 0, 0));
    show("vmsplice bad flags", vmsplice(b[1], iov, 2, 0x100));
    int nf = open("/dev/null", O_WRONLY);
    show("vmsplice not pipe", vmsplice(nf, iov, 2, 0));
    close(nf);
    fcntl(b[1], F_SETPIPE_SZ, 4096);
    write(b[1], page, sizeof page);
    show("vmsplice full nonblock", vmsplice(b[1], iov, 2, SPLICE_F_NONBLOCK));

    files(argv[1], "tmpfs");
    files(argv[2], "root");
    return 0;
}
