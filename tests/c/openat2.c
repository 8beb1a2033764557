/* openat2(2): struct open_how size rules (EINVAL, E2BIG), strict flag, mode and resolve checks,
 * and each RESOLVE_ flag (NO_SYMLINKS, NO_MAGICLINKS, NO_XDEV, BENEATH, IN_ROOT, CACHED) on a
 * small tree made under argv[1] (tmpfs) and argv[2] (the root file system). One line per case. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long o2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
               unsigned long long resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* Prints the result: an errno name, or "ok" and the first bytes of the file if readable. */
static void show(const char *what, long fd) {
    if (fd < 0) {
        printf("%s: %s\n", what, strerrorname_np(errno));
        return;
    }
    char b[16] = {0};
    long n = read((int)fd, b, 8);
    if (n > 0) {
        b[strcspn(b, "\n")] = 0;
        printf("%s: ok '%s'\n", what, b);
    } else {
        printf("%s: ok\n", what);
    }
    close((int)fd);
}

static void tree(const char *base, const char *tag) {
    char d[4096], p[4200];
    snprintf(d, sizeof d, "%s/openat2.%d", base, getpid());
    mkdir(d, 0755);
    snprintf(p, sizeof p, "%s/t", d);
    mkdir(p, 0755);
    int t = open(p, O_RDONLY | O_DIRECTORY);
    int f = openat(t, "f", O_CREAT | O_WRONLY, 0644);
    write(f, "inside\n", 7);
    close(f);
    f = openat(AT_FDCWD, d, O_RDONLY | O_DIRECTORY);
    int o = openat(f, "f", O_CREAT | O_WRONLY, 0644);
    write(o, "outside\n", 8);
    close(o);
    close(f);
    mkdirat(t, "s", 0755);
    symlinkat("f", t, "rel");
    symlinkat("../f", t, "up");
    symlinkat("/f", t, "abs");
    symlinkat("s/../f", t, "dots");

    printf("-- %s\n", tag);
    show("plain f", o2(t, "f", O_RDONLY, 0, 0));
    show("nosym rel", o2(t, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("nosym dots", o2(t, "dots", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("nosym s/../f", o2(t, "s/../f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("nosym rel O_PATH|O_NOFOLLOW", o2(t, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
    show("nosym rel O_NOFOLLOW", o2(t, "rel", O_RDONLY | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
    show("beneath f", o2(t, "f", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath rel", o2(t, "rel", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath dots", o2(t, "dots", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath ../f", o2(t, "../f", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath s/../..", o2(t, "s/../..", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath up", o2(t, "up", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath abs", o2(t, "abs", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath /etc/passwd", o2(t, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath create s/new", o2(t, "s/new", O_CREAT | O_WRONLY, 0600, RESOLVE_BENEATH));
    show("beneath create ../new", o2(t, "../new", O_CREAT | O_WRONLY, 0600, RESOLVE_BENEATH));
    show("beneath missing", o2(t, "s/none", O_RDONLY, 0, RESOLVE_BENEATH));
    show("inroot /f", o2(t, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("inroot ../../f", o2(t, "../../f", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("inroot abs", o2(t, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("inroot up", o2(t, "up", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("plain up", o2(t, "up", O_RDONLY, 0, 0));
    show("xdev .. from tmpfs dir", o2(t, "s/..", O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_XDEV));
    show("cached f", o2(t, "f", O_RDONLY, 0, RESOLVE_CACHED));
    show("cached creat", o2(t, "g", O_CREAT | O_WRONLY, 0600, RESOLVE_CACHED));
    show("cached trunc", o2(t, "f", O_WRONLY | O_TRUNC, 0, RESOLVE_CACHED));

    unlinkat(t, "s/new", 0);
    unlinkat(t, "s", AT_REMOVEDIR);
    unlinkat(t, "f", 0);
    unlinkat(t, "rel", 0);
    unlinkat(t, "up", 0);
    unlinkat(t, "abs", 0);
    unlinkat(t, "dots", 0);
    close(t);
    snprintf(p, sizeof p, "%s/t", d);
    rmdir(p);
    snprintf(p, sizeof p, "%s/f", d);
    unlink(p);
    rmdir(d);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: openat2 TMPFS_DIR ROOT_DIR\n");
        return 2;
    }
    struct {
        struct open_how how;
        unsigned long long extra;
    } big = {{.flags = O_RDONLY}, 0};
    show("size 0", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &big, 0));
    show("size 23", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &big, 23));
    show("size 24", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &big, 24));
    show("size 32 zero tail", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &big, 32));
    big.extra = 1;
    show("size 32 tail", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &big, 32));
    static char page[8192];
    show("size 8192", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", page, 8192));
    show("bad pointer", syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", (void *)8, 24));
    show("unknown flag", o2(AT_FDCWD, "/etc/passwd", 1ULL << 40, 0, 0));
    show("mode without O_CREAT", o2(AT_FDCWD, "/etc/passwd", O_RDONLY, 0644, 0));
    show("mode high bits", o2(AT_FDCWD, "/tmp/x", O_CREAT | O_WRONLY, 010000, 0));
    show("unknown resolve", o2(AT_FDCWD, "/etc/passwd", O_RDONLY, 0, 0x40));
    show("beneath|in_root", o2(AT_FDCWD, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
    show("O_PATH|O_RDWR", o2(AT_FDCWD, "/etc/passwd", O_PATH | O_RDWR, 0, 0));
    show("O_CREAT|O_DIRECTORY", o2(AT_FDCWD, "/tmp/x", O_CREAT | O_DIRECTORY, 0600, 0));
    show("passwd", o2(AT_FDCWD, "/etc/passwd", O_RDONLY, 0, 0));
    show("xdev /proc/self from /", o2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV));
    show("xdev etc/passwd from /", o2(AT_FDCWD, "/etc/passwd", O_RDONLY, 0, RESOLVE_NO_XDEV));
    int pf = open("/etc/passwd", O_RDONLY);
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", pf);
    show("magic link", o2(AT_FDCWD, link, O_RDONLY, 0, 0));
    show("magic link nomagic", o2(AT_FDCWD, link, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
    show("magic link nosym", o2(AT_FDCWD, link, O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("magic link O_PATH|O_NOFOLLOW nomagic",
         o2(AT_FDCWD, link, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_MAGICLINKS));
    int proc = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    snprintf(link, sizeof link, "%d", pf);
    show("magic link beneath", o2(proc, link, O_RDONLY, 0, RESOLVE_BENEATH));
    show("magic link in_root", o2(proc, link, O_RDONLY, 0, RESOLVE_IN_ROOT));
    close(proc);
    close(pf);
    tree(argv[1], "tmpfs");
    tree(argv[2], "root");
    return 0;
}
