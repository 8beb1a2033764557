/* A randomized file-operation test (issue 4): a seeded sequence of creates, writes, truncates,
 * renames, links, symlinks, chmods, mkdirs, rmdirs and unlinks under ROOT, printing each call's
 * result and, every few steps and at the end, the whole tree (type, mode, size, link count and a
 * hash of the contents; never directory sizes, block counts or times, which differ between
 * filesystems). Run natively and sandboxed on the same starting tree, the outputs must match.
 *
 * usage: fs_random ROOT SEED NOPS */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng;
static unsigned next(unsigned n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* "lower/..." exist before the run (in the overlay test, in the lower layer). Renaming a lower
 * directory is EXDEV on an overlay, as on Linux's without redirect_dir, so no lower directory
 * is in the pool. */
static const char *names[] = {"a", "b", "c", "d/a", "d/b", "d/e", "e", "e/f", "e/f/g", "lower/x",
                              "lower/y", "lower/sub/z"};
#define NNAMES (sizeof names / sizeof names[0])
static const char *pick(void) { return names[next(NNAMES)]; }

static const char *res(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static uint64_t hash_file(const char *p) {
    int fd = open(p, O_RDONLY);
    if (fd < 0) return 0;
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
    close(fd);
    return h;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void dump(const char *dir, const char *rel) {
    DIR *d = opendir(dir);
    if (!d) return;
    char *ents[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ents[n++] = strdup(e->d_name);
    closedir(d);
    qsort(ents, n, sizeof *ents, cmp);
    for (int i = 0; i < n; i++) {
        char p[1024], r[1024];
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]);
        snprintf(r, sizeof r, "%s%s", rel, ents[i]);
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                printf("  %s/ %o nlink=%lu\n", r, st.st_mode & 07777, (unsigned long)st.st_nlink);
                char sub[1100];
                snprintf(sub, sizeof sub, "%s/", r);
                dump(p, sub);
            } else if (S_ISLNK(st.st_mode)) {
                char t[256] = {0};
                readlink(p, t, sizeof t - 1);
                printf("  %s -> %s\n", r, t);
            } else {
                printf("  %s %o size=%ld nlink=%lu hash=%016llx\n", r, st.st_mode & 07777,
                       (long)st.st_size, (unsigned long)st.st_nlink,
                       (unsigned long long)hash_file(p));
            }
        }
        free(ents[i]);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: fs_random ROOT SEED NOPS\n");
        return 2;
    }
    mkdir(argv[1], 0755);
    if (chdir(argv[1]) < 0) {
        perror(argv[1]);
        return 1;
    }
    rng = strtoull(argv[2], NULL, 10) * 2654435761u + 1;
    int nops = atoi(argv[3]);
    umask(022);
    char buf[3000];
    for (int step = 0; step < nops; step++) {
        const char *a = pick(), *b = pick();
        int r, fd;
        switch (next(13)) {
        case 0:
            fd = open(a, O_WRONLY | O_CREAT | (next(2) ? O_EXCL : 0), 0644);
            printf("%d create %s: %s\n", step, a, res(fd));
            if (fd >= 0) close(fd);
            break;
        case 1:
        case 2: {
            fd = open(a, O_WRONLY | (next(3) == 0 ? O_APPEND : 0));
            size_t len = next(sizeof buf);
            memset(buf, 'a' + next(26), len);
            off_t off = next(5000);
            r = fd < 0 ? -1 : (int)pwrite(fd, buf, len, off);
            printf("%d write %s %zu@%ld: %s\n", step, a, len, (long)off, res(r));
            if (fd >= 0) close(fd);
            break;
        }
        case 3:
            r = truncate(a, next(6000));
            printf("%d truncate %s: %s\n", step, a, res(r));
            break;
        case 4:
            r = rename(a, b);
            printf("%d rename %s %s: %s\n", step, a, b, res(r));
            break;
        case 5:
            r = link(a, b);
            printf("%d link %s %s: %s\n", step, a, b, res(r));
            break;
        case 6:
            r = symlink(a, b);
            printf("%d symlink %s %s: %s\n", step, a, b, res(r));
            break;
        case 7:
            r = unlink(a);
            printf("%d unlink %s: %s\n", step, a, res(r));
            break;
        case 8:
            r = mkdir(a, 0755);
            printf("%d mkdir %s: %s\n", step, a, res(r));
            break;
        case 9:
            r = rmdir(a);
            printf("%d rmdir %s: %s\n", step, a, res(r));
            break;
        case 10:
            r = chmod(a, 0600 | (next(2) ? 0044 : 0) | (next(2) ? 0100 : 0));
            printf("%d chmod %s: %s\n", step, a, res(r));
            break;
        case 11: {
            fd = open(a, O_RDONLY);
            ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
            printf("%d read %s: %s %zd\n", step, a, fd < 0 ? res(-1) : "ok", n);
            if (fd >= 0) close(fd);
            break;
        }
        default: {
            r = renameat2(AT_FDCWD, a, AT_FDCWD, b, next(2) ? RENAME_NOREPLACE : RENAME_EXCHANGE);
            printf("%d renameat2 %s %s: %s\n", step, a, b, res(r));
            break;
        }
        }
        if (step % 25 == 24) dump(".", "");
    }
    printf("final:\n");
    dump(".", "");
    return 0;
}
