/* Bind mounts with and without MS_REC: a plain bind takes one mount, a recursive one copies
 * the mounts below its source (not unbindable ones); binding a subdirectory shows it as the
 * mount's root in /proc/self/mountinfo; copies are separate mounts over the same files.
 * MS_MOVE moves a mount with those below it. Natively in a private mount namespace (unshare(2)); the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char base[64];

static const char *at(const char *rel) {
    static char bufs[8][256];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 256, "%s/%s", base, rel);
    return b;
}

static void put(const char *rel, const char *text) {
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        write(fd, text, strlen(text));
        close(fd);
    }
}

static const char *get(const char *rel) {
    static char buf[64];
    memset(buf, 0, sizeof buf);
    int fd = open(at(rel), O_RDONLY);
    if (fd < 0) return strerrorname_np(errno);
    read(fd, buf, sizeof buf - 1);
    close(fd);
    return buf;
}

/* The mountinfo root field and mount options of mount point `rel`, or "not listed"; with
 * several mounts there, the last. */
static void show(const char *rel) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024], root[512] = "", opts[256] = "";
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        char r[512], mp[512], o[256];
        if (sscanf(line, "%*d %*d %*s %511s %511s %255s", r, mp, o) == 3 &&
            strcmp(mp, at(rel)) == 0) {
            strcpy(root, r);
            strcpy(opts, o);
            found++;
        }
    }
    if (f) fclose(f);
    if (found)
        printf("  %s: root=%s opts=%s mounts=%d\n", rel, root, opts, found);
    else
        printf("  %s: not listed\n", rel);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(base, "/tmp/rbind-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    for (const char *d = "a\0b\0c\0e\0f\0"; *d; d += strlen(d) + 1) mkdir(at(d), 0755);
    mount("tmpfs", at("a"), "tmpfs", 0, NULL);
    mkdir(at("a/sub"), 0755);
    mkdir(at("a/dir"), 0755);
    put("a/dir/file", "in dir");
    put("a/sub/under", "under the sub mount");
    mount("tmpfs", at("a/sub"), "tmpfs", MS_NOSUID, NULL);
    put("a/sub/in-sub", "sub");
    mkdir(at("a/sub/x"), 0755);
    mount("tmpfs", at("a/sub/x"), "tmpfs", MS_NODEV, NULL);
    put("a/sub/x/in-x", "x");

    printf("plain bind=%s\n", err(mount(at("a"), at("b"), NULL, MS_BIND, NULL)));
    printf("b/sub/in-sub=%s\n", get("b/sub/in-sub"));
    printf("b/sub/under=%s\n", get("b/sub/under"));
    show("b");
    show("b/sub");
    printf("umount=%s\n", err(umount(at("b"))));

    printf("recursive bind=%s\n", err(mount(at("a"), at("b"), NULL, MS_BIND | MS_REC, NULL)));
    printf("b/sub/in-sub=%s\n", get("b/sub/in-sub"));
    printf("b/sub/x/in-x=%s\n", get("b/sub/x/in-x"));
    show("b");
    show("b/sub");
    show("b/sub/x");
    put("b/sub/x/in-x", "written through the copy");
    printf("a/sub/x/in-x=%s\n", get("a/sub/x/in-x"));
    /* The copies are mounts of their own: a mount made later under a does not show in b. */
    mkdir(at("a/sub/later"), 0755);
    mount("tmpfs", at("a/sub/later"), "tmpfs", 0, NULL);
    put("a/sub/later/f", "later");
    printf("b/sub/later/f=%s\n", get("b/sub/later/f"));
    show("b/sub/later");
    umount(at("a/sub/later"));
    /* Unmounting a copy leaves the original. */
    printf("umount b/sub/x=%s\n", err(umount(at("b/sub/x"))));
    printf("a/sub/x/in-x still=%s\n", get("a/sub/x/in-x"));
    printf("umount b with mounts below=%s\n", err(umount(at("b"))));
    printf("detach b=%s\n", err(umount2(at("b"), MNT_DETACH)));
    show("b/sub");

    printf("bind a subdirectory=%s\n", err(mount(at("a/dir"), at("c"), NULL, MS_BIND, NULL)));
    printf("c/file=%s\n", get("c/file"));
    show("c");
    printf("recursive bind of a mount below=%s\n",
           err(mount(at("a/sub"), at("e"), NULL, MS_BIND | MS_REC, NULL)));
    printf("e/x/in-x=%s\n", get("e/x/in-x"));
    show("e");
    show("e/x");

    printf("unbindable=%s\n", err(mount(NULL, at("a/sub/x"), NULL, MS_UNBINDABLE, NULL)));
    printf("bind of it=%s\n", err(mount(at("a/sub/x"), at("f"), NULL, MS_BIND, NULL)));
    printf("recursive bind around it=%s\n",
           err(mount(at("a"), at("f"), NULL, MS_BIND | MS_REC, NULL)));
    printf("f/sub/in-sub=%s\n", get("f/sub/in-sub"));
    printf("f/sub/x/in-x=%s\n", get("f/sub/x/in-x"));
    show("f/sub/x");

    umount2(at("f"), MNT_DETACH);
    umount2(at("e"), MNT_DETACH);
    umount2(at("c"), MNT_DETACH);
    printf("detach a=%s\n", err(umount2(at("a"), MNT_DETACH)));

    /* MS_MOVE: a mount and those below it move; the old place is free again. */
    mount("tmpfs", at("a"), "tmpfs", 0, NULL);
    mkdir(at("a/in"), 0755);
    mount("tmpfs", at("a/in"), "tmpfs", MS_NOEXEC, NULL);
    put("a/in/f", "moved");
    printf("move=%s\n", err(mount(at("a"), at("b"), NULL, MS_MOVE, NULL)));
    printf("b/in/f=%s\n", get("b/in/f"));
    show("a");
    show("b");
    show("b/in");
    mkdir(at("b/in/x"), 0755);
    printf("move below itself=%s\n", err(mount(at("b"), at("b/in/x"), NULL, MS_MOVE, NULL)));
    printf("move a plain directory=%s\n", err(mount(at("c"), at("e"), NULL, MS_MOVE, NULL)));
    put("f1", "file");
    put("f2", "");
    mount(at("f1"), at("f2"), NULL, MS_BIND, NULL);
    printf("move a file mount onto a directory=%s\n",
           err(mount(at("f2"), at("e"), NULL, MS_MOVE, NULL)));
    umount(at("f2"));
    unlink(at("f1"));
    unlink(at("f2"));
    mount(NULL, at("b"), NULL, MS_SHARED, NULL);
    printf("move from under a shared mount=%s\n",
           err(mount(at("b/in"), at("c"), NULL, MS_MOVE, NULL)));
    mount(NULL, at("b"), NULL, MS_PRIVATE, NULL);
    printf("move back down=%s\n", err(mount(at("b/in"), at("c"), NULL, MS_MOVE, NULL)));
    printf("c/f=%s\n", get("c/f"));
    show("c");
    show("b/in");
    umount(at("c"));
    printf("detach b=%s\n", err(umount2(at("b"), MNT_DETACH)));
    for (const char *d = "a\0b\0c\0e\0f\0"; *d; d += strlen(d) + 1) rmdir(at(d));
    printf("base removed=%s\n", err(rmdir(base)));
    printf("done\n");
    return 0;
}
