/* Filesystem micro-benchmarks for the side-by-side runner: `fsbench MODE ARG N` runs N iterations
 * of one operation and exits 0 (N = 0 measures start-up and setup alone).
 *   files DIR      in a fresh DIR/fsbench.PID: create (open O_CREAT + 64-byte write + close) N
 *                  files, stat each, unlink each (one iteration = one file's create+stat+unlink)
 *   stat PATH      stat(PATH) N times
 *   openread PATH  open + read(4 KiB) + close of PATH, N times
 *   read PATH      N passes over the whole of PATH in 64 KiB reads (open ... close each pass)
 *   walk DIR       N walks of the tree under DIR as `tar c` does it: opendir/getdents, lstat of
 *                  every entry, and open+read+close of every regular file (symlinks not followed)
 * On failure it prints what failed and exits 1, so a sandbox that gets a call wrong shows up as a
 * failed row rather than a fast one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[65536];

static int fail(const char *what, const char *path) {
    fprintf(stderr, "fsbench: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static int bench_files(const char *dir, long n) {
    char base[4096], path[4200];
    snprintf(base, sizeof base, "%s/fsbench.%d", dir, (int)getpid());
    if (mkdir(base, 0755))
        return fail("mkdir", base);
    memset(buf, 'x', 64);
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%ld", base, i);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
            return fail("create", path);
        if (write(fd, buf, 64) != 64)
            return fail("write", path);
        close(fd);
    }
    for (long i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/f%ld", base, i);
        if (stat(path, &st))
            return fail("stat", path);
        if (st.st_size != 64) {
            fprintf(stderr, "fsbench: %s has size %ld\n", path, (long)st.st_size);
            return 1;
        }
    }
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%ld", base, i);
        if (unlink(path))
            return fail("unlink", path);
    }
    if (rmdir(base))
        return fail("rmdir", base);
    return 0;
}

static int bench_stat(const char *path, long n) {
    struct stat st;
    for (long i = 0; i < n; i++)
        if (stat(path, &st))
            return fail("stat", path);
    return 0;
}

static int bench_openread(const char *path, long n) {
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail("open", path);
        if (read(fd, buf, 4096) < 0)
            return fail("read", path);
        close(fd);
    }
    return 0;
}

static int bench_read(const char *path, long n) {
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail("open", path);
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            ;
        if (r < 0)
            return fail("read", path);
        close(fd);
    }
    return 0;
}

/* Walks `path` (a directory) recursively; `len` is strlen(path), the buffer holds 4096 bytes. */
static int walk(char *path, size_t len) {
    DIR *d = opendir(path);
    if (!d)
        return fail("opendir", path);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t nl = strlen(e->d_name);
        if (len + 1 + nl >= 4096)
            continue;
        path[len] = '/';
        memcpy(path + len + 1, e->d_name, nl + 1);
        struct stat st;
        if (lstat(path, &st)) {
            rc = fail("lstat", path);
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(path, len + 1 + nl);
        } else if (S_ISREG(st.st_mode)) {
            int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd < 0) {
                rc = fail("open", path);
            } else {
                ssize_t r;
                while ((r = read(fd, buf, sizeof buf)) > 0)
                    ;
                if (r < 0)
                    rc = fail("read", path);
                close(fd);
            }
        }
        path[len] = '\0';
    }
    closedir(d);
    return rc;
}

static int bench_walk(const char *dir, long n) {
    char path[4096];
    size_t len = strlen(dir);
    if (len >= sizeof path)
        return 2;
    for (long i = 0; i < n; i++) {
        memcpy(path, dir, len + 1);
        if (walk(path, len))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fsbench files|stat|openread|read|walk PATH [N]\n");
        return 2;
    }
    const char *m = argv[1], *p = argv[2];
    long n = argc > 3 ? atol(argv[3]) : 0;
    if (!strcmp(m, "files"))
        return bench_files(p, n);
    if (!strcmp(m, "stat"))
        return bench_stat(p, n);
    if (!strcmp(m, "openread"))
        return bench_openread(p, n);
    if (!strcmp(m, "read"))
        return bench_read(p, n);
    if (!strcmp(m, "walk"))
        return bench_walk(p, n);
    fprintf(stderr, "fsbench: unknown mode %s\n", m);
    return 2;
}
