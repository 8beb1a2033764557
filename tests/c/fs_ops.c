/* File operations on a writable directory (tmpfs in the sandbox, the host's /tmp natively):
 * chmod/chown/utimes families, truncate, fallocate, link/symlink/mknod/renameat2, FIFOs,
 * sync family, flock and fcntl record locks (within a process and across fork), memfd
 * seals, close_range, sendfile, copy_file_range, user xattrs, umask. Prints one line per
 * check with the result or errno name, so the native and sandboxed runs compare line by
 * line. Works in a fresh directory under /tmp and removes it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENXIO: return "ENXIO";
    case ESPIPE: return "ESPIPE";
    case ERANGE: return "ERANGE";
    case ENODATA: return "ENODATA";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EROFS: return "EROFS";
    default: return strerror(e);
    }
}

#define R(name, expr) do { errno = 0; long _r = (long)(expr); \
    printf("%s = %ld %s\n", name, _r < 0 ? -1L : _r, _r < 0 ? en(errno) : "OK"); } while (0)

static void mode_of(const char *label, const char *p, int follow) {
    struct stat st;
    int r = follow ? stat(p, &st) : lstat(p, &st);
    if (r < 0) { printf("%s: %s\n", label, en(errno)); return; }
    printf("%s: mode=%o uid=%u gid=%u nlink=%lu size=%ld\n", label, st.st_mode, st.st_uid,
           st.st_gid, (unsigned long)st.st_nlink, S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
}

static char dir[64];
static char pbuf[4][256];
static int pnext;
/* dir/n in one of four rotating buffers, so that a call may take two paths. */
static const char *P(const char *n) {
    char *b = pbuf[pnext++ % 4];
    snprintf(b, 256, "%s/%s", dir, n);
    return b;
}

static void put(const char *n, const char *data) {
    int fd = open(P(n), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd >= 0) { if (write(fd, data, strlen(data)) < 0) perror("write"); close(fd); }
}

static void show(const char *label, const char *n) {
    char b[128] = {0};
    int fd = open(P(n), O_RDONLY);
    ssize_t k = fd < 0 ? -1 : read(fd, b, sizeof b - 1);
    if (fd >= 0) close(fd);
    printf("%s: %s\n", label, k < 0 ? en(errno) : b);
}

static void attrs(void) {
    umask(022);
    put("f", "hello");
    mode_of("created 0644 under umask 022", P("f"), 1);
    R("chmod 0600", chmod(P("f"), 0600));
    mode_of("after chmod", P("f"), 1);
    int fd = open(P("f"), O_RDWR);
    R("fchmod 06755", fchmod(fd, 06755));
    mode_of("after fchmod", P("f"), 1);
    R("fchown -1 -1", fchown(fd, -1, -1));
    mode_of("after fchown -1 -1 (suid/sgid dropped)", P("f"), 1);
    R("fchmodat 0640", fchmodat(AT_FDCWD, P("f"), 0640, 0));
    R("chown 1234 5678", chown(P("f"), 1234, 5678));
    mode_of("after chown", P("f"), 1);
    R("symlink", symlink("f", P("l")));
    R("symlink exists", symlink("f", P("l")));
    R("lchown 42 43", lchown(P("l"), 42, 43));
    mode_of("link itself", P("l"), 0);
    mode_of("link target", P("l"), 1);
    R("fchmodat nofollow on symlink", fchmodat(AT_FDCWD, P("l"), 0600, AT_SYMLINK_NOFOLLOW));
    R("fchownat empty path", fchownat(fd, "", 7, 8, AT_EMPTY_PATH));
    R("fchownat bad flag", fchownat(AT_FDCWD, P("f"), 7, 8, 0x1));
    mode_of("after fchownat", P("f"), 1);
    R("chmod missing", chmod(P("nope"), 0644));
    int pfd = open(P("f"), O_PATH);
    R("fchmod O_PATH", fchmod(pfd, 0644));
    close(pfd);

    struct timespec ts[2] = {{1000, 500}, {0, UTIME_OMIT}};
    struct stat st, st2;
    stat(P("f"), &st);
    R("utimensat atime only", utimensat(AT_FDCWD, P("f"), ts, 0));
    stat(P("f"), &st2);
    printf("atime=%ld.%ld mtime kept=%d\n", (long)st2.st_atim.tv_sec, st2.st_atim.tv_nsec,
           st2.st_mtim.tv_sec == st.st_mtim.tv_sec && st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
    struct timespec bad[2] = {{0, 1000000000L}, {0, 0}};
    R("utimensat bad nsec", utimensat(AT_FDCWD, P("f"), bad, 0));
    R("utimensat NULL", utimensat(AT_FDCWD, P("f"), NULL, 0));
    stat(P("f"), &st2);
    printf("NULL times moved mtime forward=%d\n", st2.st_mtim.tv_sec >= st.st_mtim.tv_sec);
    struct timespec ln[2] = {{5, 0}, {6, 0}};
    R("utimensat nofollow", utimensat(AT_FDCWD, P("l"), ln, AT_SYMLINK_NOFOLLOW));
    lstat(P("l"), &st2);
    printf("symlink mtime=%ld\n", (long)st2.st_mtim.tv_sec);
    stat(P("f"), &st2);
    printf("target mtime untouched=%d\n", st2.st_mtim.tv_sec != 6);
    struct timeval tv[2] = {{2000, 7}, {3000, 9}};
    R("utimes", utimes(P("f"), tv));
    stat(P("f"), &st2);
    printf("atime=%ld.%ld mtime=%ld.%ld\n", (long)st2.st_atim.tv_sec, st2.st_atim.tv_nsec,
           (long)st2.st_mtim.tv_sec, st2.st_mtim.tv_nsec);
    struct utimbuf ub = {4000, 5000};
    R("utime", utime(P("f"), &ub));
    stat(P("f"), &st2);
    printf("atime=%ld mtime=%ld\n", (long)st2.st_atim.tv_sec, (long)st2.st_mtim.tv_sec);
    R("futimesat", futimesat(AT_FDCWD, P("f"), tv));
    R("futimens", futimens(fd, ts));

    R("truncate 3", truncate(P("f"), 3));
    show("after truncate", "f");
    R("truncate dir", truncate(dir, 0));
    R("truncate negative", truncate(P("f"), -1));
    R("truncate missing", truncate(P("nope"), 0));
    R("fallocate 0..100", fallocate(fd, 0, 0, 100));
    mode_of("after fallocate", P("f"), 1);
    R("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1000));
    mode_of("after fallocate keep", P("f"), 1);
    R("fallocate bad len", fallocate(fd, 0, 0, 0));
    int rfd = open(P("f"), O_RDONLY);
    R("fallocate read-only fd", fallocate(rfd, 0, 0, 10));
    close(rfd);
    R("ftruncate 0", ftruncate(fd, 0));
    close(fd);
    chmod(P("f"), 0644);
    R("access X_OK on 0644", access(P("f"), X_OK));
    chmod(P("f"), 0744);
    R("access X_OK on 0744", access(P("f"), X_OK));
    R("access W_OK", access(P("f"), W_OK));
}

static void links(void) {
    put("a", "AAA");
    put("b", "BBB");
    R("link", link(P("a"), P("a2")));
    mode_of("a after link", P("a"), 1);
    R("link exists", link(P("a"), P("b")));
    R("link dir", link(dir, P("d2")));
    R("link missing", link(P("nope"), P("x")));
    R("symlink la -> a", symlink("a", P("la")));
    R("linkat follow", linkat(AT_FDCWD, P("la"), AT_FDCWD, P("la_f"), AT_SYMLINK_FOLLOW));
    mode_of("la_f", P("la_f"), 0);
    R("linkat nofollow", linkat(AT_FDCWD, P("la"), AT_FDCWD, P("la_n"), 0));
    mode_of("la_n", P("la_n"), 0);
    int fd = open(P("b"), O_RDONLY);
    R("linkat empty path", linkat(fd, "", AT_FDCWD, P("b2"), AT_EMPTY_PATH));
    R("linkat bad flags", linkat(AT_FDCWD, P("a"), AT_FDCWD, P("zz"), 0x8000));
    close(fd);
    show("b2", "b2");
    char t[64] = {0};
    R("readlink la", readlink(P("la"), t, sizeof t));
    printf("target=%s\n", t);
    R("symlinkat", symlinkat("b", AT_FDCWD, P("lb")));
    R("unlink a2", unlink(P("a2")));
    mode_of("a after unlink a2", P("a"), 1);

    R("renameat2 noreplace onto existing",
      syscall(SYS_renameat2, AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_NOREPLACE));
    char pa[256];
    snprintf(pa, sizeof pa, "%s/a", dir);
    R("renameat2 exchange", syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, P("b"), RENAME_EXCHANGE));
    show("a now", "a");
    show("b now", "b");
    R("renameat2 exchange missing",
      syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, P("nope"), RENAME_EXCHANGE));
    R("renameat2 both flags",
      syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, P("b"), RENAME_EXCHANGE | RENAME_NOREPLACE));
    R("renameat2 noreplace to new",
      syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, P("c"), RENAME_NOREPLACE));
    show("c", "c");
    mkdir(P("sub"), 0755);
    put("sub/x", "X");
    char ps[256];
    snprintf(ps, sizeof ps, "%s/sub", dir);
    R("renameat2 exchange dir and file",
      syscall(SYS_renameat2, AT_FDCWD, ps, AT_FDCWD, P("c"), RENAME_EXCHANGE));
    show("c/x", "c/x");
    mode_of("sub now", P("sub"), 1);

    R("mknod regular", mknod(P("m"), S_IFREG | 0666, 0));
    mode_of("m", P("m"), 1);
    R("mknod type 0", mknod(P("m0"), 0600, 0));
    mode_of("m0", P("m0"), 1);
    R("mknod exists", mknod(P("m"), S_IFREG | 0666, 0));
    R("mknod dir", mknod(P("md"), S_IFDIR | 0755, 0));
    R("mknodat fifo", mknodat(AT_FDCWD, P("fifo"), S_IFIFO | 0666, 0));
    mode_of("fifo", P("fifo"), 1);
    R("open fifo O_WRONLY|O_NONBLOCK without reader", open(P("fifo"), O_WRONLY | O_NONBLOCK));
    int r = open(P("fifo"), O_RDONLY | O_NONBLOCK);
    printf("open fifo O_RDONLY|O_NONBLOCK = %s\n", r >= 0 ? "OK" : en(errno));
    int w = open(P("fifo"), O_WRONLY | O_NONBLOCK);
    printf("open fifo O_WRONLY|O_NONBLOCK with reader = %s\n", w >= 0 ? "OK" : en(errno));
    close(w);
    close(r);
    pid_t pid = fork();
    if (pid == 0) {
        int w = open(P("fifo"), O_WRONLY);
        if (write(w, "through the fifo", 16) < 0) _exit(2);
        close(w);
        _exit(0);
    }
    r = open(P("fifo"), O_RDONLY);
    char b[64] = {0};
    ssize_t got = 0, k;
    while ((k = read(r, b + got, sizeof b - 1 - got)) > 0) got += k;
    close(r);
    int status;
    waitpid(pid, &status, 0);
    printf("fifo read %ld: %s (child %d)\n", (long)got, b, WEXITSTATUS(status));
    r = open(P("fifo"), O_RDWR);
    R("lseek fifo", lseek(r, 0, SEEK_SET));
    close(r);
}

static void tmpfile_checks(void) {
    int fd = open(dir, O_TMPFILE | O_RDWR, 0600);
    printf("O_TMPFILE open = %s\n", fd >= 0 ? "OK" : en(errno));
    R("write", write(fd, "anon", 4));
    struct stat st;
    fstat(fd, &st);
    printf("tmpfile mode=%o nlink=%lu size=%ld\n", st.st_mode, (unsigned long)st.st_nlink,
           (long)st.st_size);
    R("linkat tmpfile", linkat(fd, "", AT_FDCWD, P("named"), AT_EMPTY_PATH));
    mode_of("named", P("named"), 1);
    show("named", "named");
    close(fd);
    R("O_TMPFILE read-only", open(dir, O_TMPFILE | O_RDONLY, 0600));
    R("O_TMPFILE on a file", open(P("named"), O_TMPFILE | O_RDWR, 0600));
    fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    R("linkat O_EXCL tmpfile", linkat(fd, "", AT_FDCWD, P("never"), AT_EMPTY_PATH));
    close(fd);
}

/* Permission rules for an unprivileged caller: a child drops to uid/gid 1000. */
static void perms(void) {
    mkdir(P("sticky"), 0777);
    chmod(P("sticky"), 01777);
    put("sticky/rootfile", "r");
    chmod(P("sticky/rootfile"), 0666);
    put("secret", "s");
    chmod(P("secret"), 0600);
    put("pub", "p");
    chmod(P("pub"), 0666);
    mkdir(P("rodir"), 0755);
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) {
            printf("drop privileges: %s\n", en(errno));
            _exit(1);
        }
        R("open root's 0600 file", open(P("secret"), O_RDONLY));
        R("create in root's 0755 dir", open(P("rodir/x"), O_CREAT | O_WRONLY, 0644));
        R("mkdir in root's 0755 dir", mkdir(P("rodir/d"), 0755));
        R("unlink root's file in sticky dir", unlink(P("sticky/rootfile")));
        R("rename root's file in sticky dir", rename(P("sticky/rootfile"), P("sticky/mine")));
        int fd = open(P("sticky/own"), O_CREAT | O_WRONLY, 0644);
        printf("create own file in sticky dir = %s\n", fd >= 0 ? "OK" : en(errno));
        close(fd);
        mode_of("own", P("sticky/own"), 1);
        R("chmod root's file", chmod(P("pub"), 0777));
        R("chown own file to root", chown(P("sticky/own"), 0, -1));
        R("chown own file to own group", chown(P("sticky/own"), -1, 1000));
        R("chown own file to another group", chown(P("sticky/own"), -1, 1234));
        R("chown root's file", chown(P("pub"), -1, 1000));
        R("chmod own file 02755", chmod(P("sticky/own"), 02755));
        mode_of("own", P("sticky/own"), 1);
        struct timespec ts[2] = {{1, 0}, {2, 0}};
        R("utimensat explicit on root's 0666 file", utimensat(AT_FDCWD, P("pub"), ts, 0));
        R("utimensat NULL on root's 0666 file", utimensat(AT_FDCWD, P("pub"), NULL, 0));
        R("utimensat NULL on root's 0600 file", utimensat(AT_FDCWD, P("secret"), NULL, 0));
        R("truncate root's 0600 file", truncate(P("secret"), 0));
        R("truncate root's 0666 file", truncate(P("pub"), 0));
        R("setxattr on root's 0666 file", setxattr(P("pub"), "user.a", "1", 1, 0));
        R("setxattr on root's 0600 file", setxattr(P("secret"), "user.a", "1", 1, 0));
        R("unlink own file in sticky dir", unlink(P("sticky/own")));
        R("access R_OK root's 0600 file", access(P("secret"), R_OK));
        R("chdir into rodir", chdir(P("rodir")));
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("unprivileged child exited %d\n", WEXITSTATUS(status));
}

static void syncs(void) {
    int fd = open(P("b"), O_RDWR);
    sync();
    printf("sync done\n");
    R("syncfs", syncfs(fd));
    R("syncfs bad fd", syncfs(999));
    R("sync_file_range", sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));
    R("sync_file_range bad flags", sync_file_range(fd, 0, 0, 0x100));
    R("sync_file_range negative", sync_file_range(fd, -1, 0, 0));
    R("fsync", fsync(fd));
    close(fd);
}

static void locks(void) {
    put("lk", "0123456789");
    int a = open(P("lk"), O_RDWR), b = open(P("lk"), O_RDWR);
    R("flock a EX", flock(a, LOCK_EX));
    R("flock b EX NB", flock(b, LOCK_EX | LOCK_NB));
    R("flock b SH NB", flock(b, LOCK_SH | LOCK_NB));
    int a2 = dup(a);
    R("flock dup of a SH (converts)", flock(a2, LOCK_SH));
    R("flock b SH NB now", flock(b, LOCK_SH | LOCK_NB));
    R("flock b EX NB", flock(b, LOCK_EX | LOCK_NB));
    R("flock bad op", flock(a, 0));
    R("flock a UN", flock(a, LOCK_UN));
    R("flock b EX NB after UN", flock(b, LOCK_EX | LOCK_NB));
    close(a2);
    close(a);
    /* The child says when it has made its try (the parent then lets go); a sleep instead
     * would let a slow child try after the release. */
    int tried[2];
    if (pipe(tried) < 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(b); /* the child's copy would keep the parent's lock alive */
        int c = open(P("lk"), O_RDWR);
        printf("child flock EX NB = %s\n", flock(c, LOCK_EX | LOCK_NB) < 0 ? en(errno) : "OK");
        fflush(stdout);
        if (write(tried[1], "t", 1) != 1) _exit(1);
        if (flock(c, LOCK_EX) == 0) printf("child got flock after parent released\n");
        fflush(stdout);
        _exit(0);
    }
    char token;
    if (read(tried[0], &token, 1) != 1) exit(1);
    close(b); /* last reference: releases the flock */
    int status;
    waitpid(pid, &status, 0);

    int fd = open(P("lk"), O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    R("F_SETLK write 0..10", fcntl(fd, F_SETLK, &fl));
    fl = (struct flock){.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 4, .l_len = 2};
    R("F_SETLK unlock 4..6", fcntl(fd, F_SETLK, &fl));
    fl = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    R("F_GETLK own process", fcntl(fd, F_GETLK, &fl));
    printf("own: type=%s\n", fl.l_type == F_UNLCK ? "UNLCK" : "locked");
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
        int c = open(P("lk"), O_RDWR);
        struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        fcntl(c, F_GETLK, &q);
        printf("child GETLK: type=%s start=%ld len=%ld pid_is_parent=%d\n",
               q.l_type == F_WRLCK ? "WRLCK" : "other", (long)q.l_start, (long)q.l_len,
               q.l_pid == parent);
        q = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 4, .l_len = 2};
        printf("child SETLK in hole = %s\n", fcntl(c, F_SETLK, &q) < 0 ? en(errno) : "OK");
        q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        printf("child SETLK conflicting = %s\n", fcntl(c, F_SETLK, &q) < 0 ? en(errno) : "OK");
        fflush(stdout);
        if (write(tried[1], "t", 1) != 1) _exit(1);
        printf("child SETLKW = %s (after parent unlock)\n",
               fcntl(c, F_SETLKW, &q) < 0 ? en(errno) : "OK");
        fflush(stdout);
        _exit(0);
    }
    if (read(tried[0], &token, 1) != 1) exit(1);
    close(tried[0]);
    close(tried[1]);
    int other = open(P("lk"), O_RDONLY);
    close(other); /* any close by the owner drops its record locks */
    waitpid(pid, &status, 0);

    int o1 = open(P("lk"), O_RDWR), o2 = open(P("lk"), O_RDWR);
    struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    R("F_OFD_SETLK o1", fcntl(o1, F_OFD_SETLK, &ofd));
    R("F_OFD_SETLK o2 conflicting", fcntl(o2, F_OFD_SETLK, &ofd));
    ofd.l_pid = 1;
    R("F_OFD_SETLK pid set", fcntl(o2, F_OFD_SETLK, &ofd));
    ofd = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    R("F_OFD_GETLK o2", fcntl(o2, F_OFD_GETLK, &ofd));
    printf("ofd getlk: type=%s len=%ld pid=%d\n", ofd.l_type == F_WRLCK ? "WRLCK" : "other",
           (long)ofd.l_len, ofd.l_pid);
    struct flock px = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
    R("posix lock vs OFD", fcntl(o2, F_SETLK, &px));
    close(o1);
    R("F_OFD_SETLK o2 after close o1", fcntl(o2, F_OFD_SETLK, &(struct flock){.l_type = F_WRLCK}));
    int ro = open(P("lk"), O_RDONLY);
    R("F_SETLK write on read-only fd", fcntl(ro, F_SETLK, &(struct flock){.l_type = F_WRLCK}));
    R("F_SETLK bad type", fcntl(ro, F_SETLK, &(struct flock){.l_type = 9}));
    close(ro);
    close(o2);
    close(fd);
}

static void memfd(void) {
    int m = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    printf("memfd_create = %s\n", m >= 0 ? "OK" : en(errno));
    R("F_GETFD", fcntl(m, F_GETFD));
    R("write", write(m, "0123456789", 10));
    struct stat st;
    fstat(m, &st);
    printf("memfd mode=%o size=%ld\n", st.st_mode, (long)st.st_size);
    R("F_GET_SEALS", fcntl(m, F_GET_SEALS));
    R("F_ADD_SEALS shrink|grow", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
    R("F_GET_SEALS", fcntl(m, F_GET_SEALS));
    R("ftruncate smaller", ftruncate(m, 5));
    R("ftruncate larger", ftruncate(m, 20));
    R("ftruncate same", ftruncate(m, 10));
    R("pwrite inside", pwrite(m, "ab", 2, 0));
    R("pwrite past end", pwrite(m, "ab", 2, 9));
    R("F_ADD_SEALS write", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
    R("pwrite sealed", pwrite(m, "ab", 2, 0));
    R("F_ADD_SEALS seal", fcntl(m, F_ADD_SEALS, F_SEAL_SEAL));
    R("F_ADD_SEALS after seal", fcntl(m, F_ADD_SEALS, F_SEAL_GROW));
    R("F_ADD_SEALS bad", fcntl(m, F_ADD_SEALS, 0x1000));
    char b[16] = {0};
    R("pread", pread(m, b, 10, 0));
    printf("memfd data=%s\n", b);
    int n = memfd_create("plain", 0);
    R("F_GET_SEALS without ALLOW_SEALING", fcntl(n, F_GET_SEALS));
    R("F_ADD_SEALS without ALLOW_SEALING", fcntl(n, F_ADD_SEALS, F_SEAL_GROW));
    R("F_GETFD plain", fcntl(n, F_GETFD));
    R("memfd_create bad flags", memfd_create("x", 0x100));
    R("ftruncate+mmap", ftruncate(n, 4096));
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, n, 0);
    if (p != MAP_FAILED) {
        strcpy(p, "shared");
        char q[8] = {0};
        pread(n, q, 6, 0);
        printf("mmap shared write visible via pread: %s\n", q);
        munmap(p, 4096);
    }
    close(m);
    close(n);
}

static void fds(void) {
    int a = open("/dev/null", O_RDONLY);
    int b = dup(a), c = dup(a);
    R("close_range cloexec", syscall(SYS_close_range, a, c, 4));
    printf("cloexec flags: %d %d %d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(c, F_GETFD));
    R("close_range", syscall(SYS_close_range, a, c, 0));
    R("fcntl after close_range", fcntl(b, F_GETFD));
    R("close_range first > last", syscall(SYS_close_range, 10, 5, 0));
    R("close_range bad flags", syscall(SYS_close_range, 100, 200, 0x80));
    R("close_range unshare", syscall(SYS_close_range, 1000, ~0U, 2));

    put("src", "hello world");
    int s = open(P("src"), O_RDONLY);
    int d = open(P("dst"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    off_t off = 6;
    R("sendfile with offset", sendfile(d, s, &off, 100));
    printf("offset now %ld, file position %ld\n", (long)off, (long)lseek(s, 0, SEEK_CUR));
    R("sendfile from position", sendfile(d, s, NULL, 5));
    printf("file position %ld\n", (long)lseek(s, 0, SEEK_CUR));
    R("sendfile to read-only", sendfile(s, s, NULL, 5));
    close(d);
    show("dst", "dst");
    d = open(P("dst2"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    loff_t in = 0, out = 3;
    R("copy_file_range", copy_file_range(s, &in, d, &out, 5, 0));
    printf("in=%ld out=%ld\n", (long)in, (long)out);
    R("copy_file_range flags", copy_file_range(s, &in, d, &out, 5, 1));
    int dd = open(dir, O_RDONLY);
    R("copy_file_range from dir", copy_file_range(dd, NULL, d, NULL, 5, 0));
    close(dd);
    close(d);
    int fd = open(P("dst2"), O_RDONLY);
    char bb[16] = {0};
    ssize_t k = read(fd, bb, sizeof bb);
    printf("dst2 %ld bytes: %c%c%c%s\n", (long)k, bb[0] ? bb[0] : '0', bb[1] ? bb[1] : '0',
           bb[2] ? bb[2] : '0', bb + 3);
    close(fd);
    close(s);
}

static void xattrs(void) {
    char v[64] = {0};
    R("setxattr user.k", setxattr(P("b"), "user.k", "val", 3, 0));
    R("getxattr size", getxattr(P("b"), "user.k", NULL, 0));
    R("getxattr", getxattr(P("b"), "user.k", v, sizeof v));
    printf("value=%s\n", v);
    R("getxattr small buffer", getxattr(P("b"), "user.k", v, 1));
    R("setxattr create existing", setxattr(P("b"), "user.k", "x", 1, XATTR_CREATE));
    R("setxattr replace missing", setxattr(P("b"), "user.q", "x", 1, XATTR_REPLACE));
    R("setxattr replace", setxattr(P("b"), "user.k", "v2", 2, XATTR_REPLACE));
    R("setxattr bad flags", setxattr(P("b"), "user.k", "v2", 2, 8));
    int fd = open(P("b"), O_RDONLY);
    R("fsetxattr user.z", fsetxattr(fd, "user.z", "", 0, 0));
    char list[256] = {0};
    ssize_t n = flistxattr(fd, list, sizeof list);
    int has_k = 0, has_z = 0;
    for (ssize_t i = 0; i < n; i += strlen(list + i) + 1) {
        has_k |= strcmp(list + i, "user.k") == 0;
        has_z |= strcmp(list + i, "user.z") == 0;
    }
    printf("list has user.k=%d user.z=%d\n", has_k, has_z);
    R("fgetxattr empty value", fgetxattr(fd, "user.z", v, sizeof v));
    R("removexattr", removexattr(P("b"), "user.k"));
    R("removexattr again", removexattr(P("b"), "user.k"));
    R("getxattr missing", getxattr(P("b"), "user.k", v, sizeof v));
    R("getxattr empty name", getxattr(P("b"), "", v, sizeof v));
    R("lsetxattr user on symlink", lsetxattr(P("lb"), "user.k", "v", 1, 0));
    R("fremovexattr", fremovexattr(fd, "user.z"));
    close(fd);
}

static void cleanup(const char *d) {
    /* Remove what we made, children first. */
    const char *names[] = {"f", "l", "a", "b", "a2", "b2", "la", "la_f", "la_n", "lb", "c/x",
                           "c", "sub", "m", "m0", "fifo", "lk", "src", "dst", "dst2", "named",
                           "sticky/rootfile", "sticky/own", "sticky", "secret", "pub", "rodir",
                           NULL};
    for (int i = 0; names[i]; i++) {
        if (unlink(P(names[i])) < 0) rmdir(P(names[i]));
    }
    if (rmdir(d) < 0) printf("rmdir %s\n", en(errno));
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/fs_ops.%d", (int)getpid());
    if (mkdir(dir, 0755) < 0) { perror("mkdir"); return 1; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    attrs();
    links();
    tmpfile_checks();
    perms();
    syncs();
    locks();
    memfd();
    fds();
    xattrs();
    cleanup(dir);
    return 0;
}
