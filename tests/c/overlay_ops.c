/* File changes under a root file system whose files came from elsewhere: appends, O_TRUNC,
 * truncate, renames (plain and over an existing file), unlink, rmdir (ENOTEMPTY first), chmod,
 * utimes, mkdir, symlink, hard link, a shared mapping written through and read back by a
 * read-only descriptor, and inode numbers kept across writes. Run natively on a scratch copy
 * of a tree and sandboxed on the tree itself (as the overlay root); argv[1] is the tree's root
 * ("/" in the sandbox). Prints one line per check and the sorted listings at the end; nothing
 * printed depends on where the tree lies. Layout it expects: etc/{hostname,hosts,passwd,
 * sub/x}, usr/share/doc/{a,b}, usr/bin/tool. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char root[4096];

static const char *P(const char *rel) {
    static char bufs[4][8192];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", root, rel);
    return b;
}

static const char *err(int r) {
    if (r >= 0)
        return "ok";
    switch (errno) {
    case ENOENT: return "ENOENT";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EEXIST: return "EEXIST";
    case EROFS: return "EROFS";
    case EXDEV: return "EXDEV";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    default: return strerror(errno);
    }
}

#define R(name, call) printf("%s: %s\n", name, err(call))

static void cat(const char *rel) {
    char buf[512];
    int fd = open(P(rel), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("cat %s: %s\n", rel, err(-1));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    printf("cat %s: [%s]\n", rel, buf);
}

static void put(const char *rel, int flags, const char *s) {
    int fd = open(P(rel), flags | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        printf("put %s: %s\n", rel, err(-1));
        return;
    }
    if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
        printf("put %s: short write\n", rel);
    close(fd);
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted listing of a directory, recursively, with types and sizes of regular files. */
static void list(const char *rel, int depth) {
    char *names[256];
    int n = 0;
    DIR *d = opendir(P(rel));
    struct dirent *e;
    if (d == NULL) {
        printf("ls %s: %s\n", rel, err(-1));
        return;
    }
    while ((e = readdir(d)) != NULL && n < 256) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (int i = 0; i < n; i++) {
        char sub[1024];
        struct stat st;
        snprintf(sub, sizeof sub, "%s/%s", rel, names[i]);
        if (lstat(P(sub), &st) != 0) {
            printf("%*s%s: lstat %s\n", depth * 2, "", names[i], err(-1));
            continue;
        }
        printf("%*s%s %o %lld\n", depth * 2, "", names[i], st.st_mode,
               S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL);
        if (S_ISDIR(st.st_mode))
            list(sub, depth + 1);
        free(names[i]);
    }
}

int main(int argc, char **argv) {
    struct stat a, b;
    if (argc != 2) {
        fprintf(stderr, "usage: overlay_ops ROOT\n");
        return 2;
    }
    snprintf(root, sizeof root, "%s", strcmp(argv[1], "/") == 0 ? "" : argv[1]);
    umask(022);

    /* Appends and inode stability. */
    if (stat(P("etc/hostname"), &a) != 0)
        return 3;
    put("etc/hostname", O_APPEND, "appended\n");
    cat("etc/hostname");
    if (stat(P("etc/hostname"), &b) != 0)
        return 3;
    printf("ino kept: %d dev kept: %d\n", a.st_ino == b.st_ino, a.st_dev == b.st_dev);
    struct stat de;
    if (stat(P("etc"), &de) != 0)
        return 3;
    printf("same dev as etc: %d\n", de.st_dev == b.st_dev);

    /* O_TRUNC and truncate(2). */
    put("etc/hosts", O_TRUNC, "::1 here\n");
    cat("etc/hosts");
    R("truncate usr/share/doc/a", truncate(P("usr/share/doc/a"), 3));
    cat("usr/share/doc/a");

    /* Renames. */
    R("rename etc/passwd etc/passwd.new", rename(P("etc/passwd"), P("etc/passwd.new")));
    R("access etc/passwd", access(P("etc/passwd"), F_OK));
    cat("etc/passwd.new");
    R("rename doc/b over doc/a", rename(P("usr/share/doc/b"), P("usr/share/doc/a")));
    cat("usr/share/doc/a");
    R("access doc/b", access(P("usr/share/doc/b"), F_OK));

    /* unlink and rmdir. */
    R("rmdir etc/sub", rmdir(P("etc/sub")));
    R("unlink etc/sub/x", unlink(P("etc/sub/x")));
    R("rmdir etc/sub", rmdir(P("etc/sub")));
    R("stat etc/sub", stat(P("etc/sub"), &a));
    R("rmdir usr/share", rmdir(P("usr/share")));
    R("unlink etc/hosts", unlink(P("etc/hosts")));
    R("open etc/hosts", open(P("etc/hosts"), O_RDONLY));
    put("etc/hosts", O_CREAT | O_EXCL, "recreated\n");
    cat("etc/hosts");

    /* chmod, utimes. */
    R("chmod usr/bin/tool", chmod(P("usr/bin/tool"), 0700));
    if (stat(P("usr/bin/tool"), &a) == 0)
        printf("tool mode %o\n", a.st_mode);
    struct timeval tv[2] = {{1000000, 0}, {2000000, 0}};
    R("utimes usr/bin/tool", utimes(P("usr/bin/tool"), tv));
    if (stat(P("usr/bin/tool"), &a) == 0)
        printf("tool times %lld %lld\n", (long long)a.st_atime, (long long)a.st_mtime);
    cat("usr/bin/tool");

    /* mkdir, symlink, hard link. */
    R("mkdir etc/newdir", mkdir(P("etc/newdir"), 0750));
    put("etc/newdir/f", O_CREAT, "in new dir\n");
    R("mkdir etc/newdir again", mkdir(P("etc/newdir"), 0750));
    R("symlink etc/l", symlink("hostname", P("etc/l")));
    cat("etc/l");
    R("link etc/hl", link(P("etc/hostname"), P("etc/hl")));
    if (stat(P("etc/hl"), &a) == 0 && stat(P("etc/hostname"), &b) == 0)
        printf("hard link: nlink %ld same ino %d\n", (long)a.st_nlink, a.st_ino == b.st_ino);
    R("rename etc/newdir usr/newdir", rename(P("etc/newdir"), P("usr/newdir")));

    /* A read-only descriptor opened first, then a shared mapping written through. */
    int ro = open(P("usr/share/doc/a"), O_RDONLY | O_CLOEXEC);
    int rw = open(P("usr/share/doc/a"), O_RDWR | O_CLOEXEC);
    if (ro < 0 || rw < 0)
        return 4;
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
    if (m == MAP_FAILED)
        return 5;
    memcpy(m, "MAP", 3);
    msync(m, 4096, MS_SYNC);
    char buf[64] = {0};
    ssize_t n = pread(ro, buf, sizeof buf - 1, 0);
    printf("ro fd after mapped write: %zd [%s]\n", n, n > 0 ? buf : "");
    char *r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
    if (r == MAP_FAILED)
        return 6;
    printf("ro mapping: [%.3s]\n", r);
    memcpy(m, "map", 3);
    printf("ro mapping after write: [%.3s]\n", r);
    munmap(r, 4096);
    munmap(m, 4096);
    close(ro);
    close(rw);

    printf("--- etc\n");
    list("etc", 0);
    printf("--- usr\n");
    list("usr", 0);
    return 0;
}
