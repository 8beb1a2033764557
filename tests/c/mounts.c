/* mount(2) and umount2(2) from inside: tmpfs with options, proc, bind mounts of directories
 * and files, read-only remounts, stacked mounts, umount's EBUSY and MNT_DETACH,
 * /proc/self/mountinfo, and the errors. Natively it first enters a private mount namespace
 * (unshare(2)), so nothing reaches the host's mounts; the sandbox is one already (its unshare
 * result is not printed). Prints one line per case; the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char base[64], a[128], b[128], sub[160], f1[160], f2[160];

static void put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        write(fd, text, strlen(text));
        close(fd);
    }
}

static const char *get(const char *path) {
    static char buf[64];
    memset(buf, 0, sizeof buf);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return strerrorname_np(errno);
    read(fd, buf, sizeof buf - 1);
    close(fd);
    return buf;
}

/* Whether /proc/self/mountinfo has a line whose mount point is `path`. */
static int listed(const char *path) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return -1;
    char line[1024], needle[200];
    snprintf(needle, sizeof needle, " %s ", path);
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) found = 1;
    fclose(f);
    return found;
}

static void tmpfs_options(void) {
    printf("mount tmpfs=%s\n", err(mount("tmpfs", a, "tmpfs", 0, "mode=700,uid=5,gid=6,size=1m")));
    struct stat st;
    stat(a, &st);
    printf("root mode=%o uid=%u gid=%u\n", st.st_mode & 07777, st.st_uid, st.st_gid);
    printf("listed=%d\n", listed(a));
    char p[200];
    snprintf(p, sizeof p, "%s/inside", a);
    put(p, "x");
    printf("file inside=%s\n", get(p));
    printf("umount=%s\n", err(umount(a)));
    printf("file after umount=%s\n", get(p));
    printf("listed after=%d\n", listed(a));
    printf("bad option=%s\n", err(mount("tmpfs", a, "tmpfs", 0, "bogus=1")));
}

static void bind_and_remount(void) {
    mount("tmpfs", a, "tmpfs", 0, NULL);
    char pa[200], pb[200], pb2[200];
    snprintf(pa, sizeof pa, "%s/x", a);
    snprintf(pb, sizeof pb, "%s/x", b);
    snprintf(pb2, sizeof pb2, "%s/y", b);
    put(pa, "shared");
    printf("bind=%s\n", err(mount(a, b, NULL, MS_BIND, NULL)));
    printf("through the bind=%s\n", get(pb));
    put(pb2, "both ways");
    snprintf(pa, sizeof pa, "%s/y", a);
    printf("written through the bind, read at the source=%s\n", get(pa));
    printf("remount ro=%s\n", err(mount(NULL, b, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL)));
    int fd = open(pb, O_WRONLY);
    printf("write on the ro bind=%s\n", err(fd));
    if (fd >= 0) close(fd);
    snprintf(pb2, sizeof pb2, "%s/newdir", b);
    printf("create on the ro bind=%s\n", err(mkdir(pb2, 0755)));
    snprintf(pa, sizeof pa, "%s/x", a);
    fd = open(pa, O_WRONLY);
    printf("write at the source still=%s\n", err(fd));
    if (fd >= 0) close(fd);
    printf("remount rw=%s\n", err(mount(NULL, b, NULL, MS_REMOUNT | MS_BIND, NULL)));
    fd = open(pb, O_WRONLY);
    printf("write after rw=%s\n", err(fd));
    if (fd >= 0) close(fd);
    printf("umount bind=%s\n", err(umount(b)));
    printf("umount source=%s\n", err(umount(a)));
}

static void stacked(void) {
    char p[200];
    snprintf(p, sizeof p, "%s/one", a);
    mount("tmpfs", a, "tmpfs", 0, NULL);
    put(p, "first");
    printf("second on top=%s\n", err(mount("tmpfs", a, "tmpfs", 0, NULL)));
    printf("first's file hidden=%s\n", get(p));
    printf("umount top=%s\n", err(umount(a)));
    printf("first's file back=%s\n", get(p));
    printf("umount first=%s\n", err(umount(a)));
}

static void busy_and_detach(void) {
    mount("tmpfs", a, "tmpfs", 0, NULL);
    snprintf(sub, sizeof sub, "%s/sub", a);
    mkdir(sub, 0755);
    mount("tmpfs", sub, "tmpfs", 0, NULL);
    printf("umount with a mount below=%s\n", err(umount(a)));
    printf("detach=%s\n", err(umount2(a, MNT_DETACH)));
    printf("sub listed after detach=%d\n", listed(sub));
    struct stat st;
    printf("sub gone=%s\n", err(stat(sub, &st)));
}

static void others(void) {
    printf("mount proc=%s\n", err(mount("proc", a, "proc", 0, NULL)));
    char p[200];
    snprintf(p, sizeof p, "%s/self/status", a);
    printf("proc works=%d\n", access(p, R_OK) == 0);
    printf("umount proc=%s\n", err(umount(a)));
    put(f1, "file one");
    put(f2, "file two");
    printf("bind a file=%s\n", err(mount(f1, f2, NULL, MS_BIND, NULL)));
    printf("seen at the target=%s\n", get(f2));
    printf("umount file=%s\n", err(umount(f2)));
    printf("target back=%s\n", get(f2));
    printf("file over a directory=%s\n", err(mount(f1, a, NULL, MS_BIND, NULL)));
    printf("private=%s\n", err(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)));
    printf("private on a non-mount=%s\n", err(mount(NULL, a, NULL, MS_PRIVATE, NULL)));
}

static void errors(void) {
    printf("unknown fs=%s\n", err(mount("x", a, "nosuchfs", 0, NULL)));
    printf("missing target=%s\n", err(mount("tmpfs", "/no/such/dir", "tmpfs", 0, NULL)));
    printf("umount a non-mount=%s\n", err(umount(a)));
    printf("umount missing=%s\n", err(umount("/no/such/dir")));
    printf("umount2 bad flags=%s\n", err(umount2(a, 0x100)));
    printf("expire with detach=%s\n", err(umount2(a, MNT_EXPIRE | MNT_DETACH)));
    printf("remount a non-mount=%s\n", err(mount(NULL, a, NULL, MS_REMOUNT, NULL)));
    printf("bind missing source=%s\n", err(mount("/no/such", a, NULL, MS_BIND, NULL)));
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        setresuid(1000, 1000, 1000);
        printf("unprivileged mount=%s\n", err(mount("tmpfs", a, "tmpfs", 0, NULL)));
        printf("unprivileged umount=%s\n", err(umount(a)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Natively: a private mount namespace. In the sandbox: already one. */
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(base, "/tmp/mounts-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    chmod(base, 0755); /* searchable by the unprivileged child */
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    snprintf(f1, sizeof f1, "%s/f1", base);
    snprintf(f2, sizeof f2, "%s/f2", base);
    mkdir(a, 0755);
    mkdir(b, 0755);
    tmpfs_options();
    bind_and_remount();
    stacked();
    busy_and_detach();
    others();
    errors();
    unlink(f1);
    unlink(f2);
    rmdir(sub);
    rmdir(a);
    rmdir(b);
    rmdir(base);
    printf("done\n");
    return 0;
}
