/* Mount namespaces and pivot_root(2): unshare(CLONE_NEWNS) gives a copy of the mount tree, so
 * mounts made afterwards on either side are not seen on the other, and /proc/PID/mountinfo
 * shows each process's own; pivot_root's errors (EPERM, ENOENT, ENOTDIR, EBUSY, EINVAL), and
 * the sequence unshare -m; mount --bind X X; pivot_root X X/old; umount -l /old. Natively the
 * whole program runs in a private mount namespace (unshare(2)) made first; the sandbox must
 * print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/wait.h>
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

static int pivot(const char *new_root, const char *put_old) {
    return syscall(SYS_pivot_root, new_root, put_old);
}

/* Whether mountinfo file `file` lists mount point `path`. */
static int listed_in(const char *file, const char *path) {
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    char line[1024], mp[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1 && strcmp(mp, path) == 0) found = 1;
    fclose(f);
    return found;
}

static int listed(const char *path) { return listed_in("/proc/self/mountinfo", path); }

/* One line per mount of /proc/self/mountinfo: root, mount point, type. */
static void show_all(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        char root[512], mp[512], type[64];
        char *dash = strstr(line, " - ");
        if (sscanf(line, "%*d %*d %*s %511s %511s", root, mp) == 2 && dash &&
            sscanf(dash, " - %63s", type) == 1)
            printf("  mount %s root=%s %s\n", mp, root, type);
        n++;
    }
    if (f) fclose(f);
    printf("  %d mounts\n", n);
}

static void wait_for(int fd) {
    char c;
    read(fd, &c, 1);
}
static void signal_to(int fd) { write(fd, "x", 1); }

static void separate_trees(void) {
    int to_kid[2], to_parent[2];
    pipe(to_kid);
    pipe(to_parent);
    mkdir(at("before"), 0755);
    mkdir(at("kid"), 0755);
    mkdir(at("parent"), 0755);
    mount("tmpfs", at("before"), "tmpfs", 0, NULL);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        printf("kid: unshare=%s\n", err(unshare(CLONE_NEWNS)));
        printf("kid: sees the mount made before=%d\n", listed(at("before")));
        printf("kid: mount=%s\n", err(mount("tmpfs", at("kid"), "tmpfs", 0, NULL)));
        int fd = open(at("kid/file"), O_CREAT | O_WRONLY, 0644);
        close(fd);
        fflush(stdout);
        signal_to(to_parent[1]);
        wait_for(to_kid[0]);
        printf("kid: sees the parent's later mount=%d\n", listed(at("parent")));
        printf("kid: umount the shared-before one=%s\n", err(umount(at("before"))));
        fflush(stdout);
        signal_to(to_parent[1]);
        wait_for(to_kid[0]);
        _exit(0);
    }
    wait_for(to_parent[0]);
    printf("parent: sees the kid's mount=%d\n", listed(at("kid")));
    printf("parent: kid's file=%s\n", err(access(at("kid/file"), F_OK)));
    char file[64];
    snprintf(file, sizeof file, "/proc/%d/mountinfo", kid);
    printf("parent: kid's mountinfo lists it=%d\n", listed_in(file, at("kid")));
    printf("parent: mount=%s\n", err(mount("tmpfs", at("parent"), "tmpfs", 0, NULL)));
    fflush(stdout);
    signal_to(to_kid[1]);
    wait_for(to_parent[0]);
    printf("parent: still has the one the kid unmounted=%d\n", listed(at("before")));
    signal_to(to_kid[1]);
    waitpid(kid, NULL, 0);
    umount(at("parent"));
    umount(at("before"));
    rmdir(at("before"));
    rmdir(at("kid"));
    rmdir(at("parent"));
}

/* clone(CLONE_NEWNS): the child starts in a copy of the parent's namespace. */
static void clone_newns(void) {
    mkdir(at("cl"), 0755);
    fflush(stdout);
    long kid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (kid == 0) {
        printf("clone kid: sees the parent's mounts=%d\n", listed(base));
        printf("clone kid: mount=%s\n", err(mount("tmpfs", at("cl"), "tmpfs", 0, NULL)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    printf("clone parent: sees the kid's=%d\n", listed(at("cl")));
    long r = syscall(SYS_clone, CLONE_NEWNS | CLONE_FS | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    printf("clone NEWNS|FS=%s\n", err(r));
    rmdir(at("cl"));
}

/* Copies of shared mounts in a new namespace are peers of the originals: mounts below them
 * propagate both ways. */
static void shared_across(void) {
    int to_kid[2], to_parent[2];
    pipe(to_kid);
    pipe(to_parent);
    mkdir(at("sh"), 0755);
    mount("tmpfs", at("sh"), "tmpfs", 0, NULL);
    mount(NULL, at("sh"), NULL, MS_SHARED, NULL);
    mkdir(at("sh/x"), 0755);
    mkdir(at("sh/y"), 0755);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        unshare(CLONE_NEWNS);
        signal_to(to_parent[1]);
        wait_for(to_kid[0]);
        printf("kid: sees the parent's mount below the shared one=%d\n", listed(at("sh/x")));
        printf("kid: mount=%s\n", err(mount("tmpfs", at("sh/y"), "tmpfs", 0, NULL)));
        fflush(stdout);
        signal_to(to_parent[1]);
        wait_for(to_kid[0]);
        _exit(0);
    }
    wait_for(to_parent[0]);
    printf("parent: mount below the shared one=%s\n",
           err(mount("tmpfs", at("sh/x"), "tmpfs", 0, NULL)));
    fflush(stdout);
    signal_to(to_kid[1]);
    wait_for(to_parent[0]);
    printf("parent: sees the kid's=%d\n", listed(at("sh/y")));
    signal_to(to_kid[1]);
    waitpid(kid, NULL, 0);
    umount2(at("sh"), MNT_DETACH);
    rmdir(at("sh"));
}

static void pivot_errors(void) {
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        unshare(CLONE_NEWNS);
        mkdir(at("x"), 0755);
        mkdir(at("x/old"), 0755);
        mkdir(at("plain"), 0755);
        mkdir(at("plain/old"), 0755);
        int fd = open(at("file"), O_CREAT | O_WRONLY, 0644);
        close(fd);
        printf("missing new_root=%s\n", err(pivot(at("nothing"), at("x/old"))));
        printf("file as new_root=%s\n", err(pivot(at("file"), at("x/old"))));
        printf("file as put_old=%s\n", err(pivot(at("x"), at("file"))));
        printf("new_root not a mount point=%s\n", err(pivot(at("plain"), at("plain/old"))));
        mount(at("x"), at("x"), NULL, MS_BIND, NULL);
        printf("put_old outside new_root=%s\n", err(pivot(at("x"), at("plain"))));
        printf("new_root on the root mount=%s\n", err(pivot("/", at("x/old"))));
        mount(NULL, base, NULL, MS_SHARED, NULL);
        printf("new_root's parent shared=%s\n", err(pivot(at("x"), at("x/old"))));
        mount(NULL, base, NULL, MS_PRIVATE, NULL);
        fflush(stdout);
        pid_t k2 = fork();
        if (k2 == 0) {
            setresuid(1000, 1000, 1000);
            printf("unprivileged pivot_root=%s\n", err(pivot(at("x"), at("x/old"))));
            printf("unprivileged unshare=%s\n", err(unshare(CLONE_NEWNS)));
            printf("unshare of a pid namespace=%s\n", err(unshare(CLONE_NEWPID)));
            fflush(stdout);
            _exit(0);
        }
        waitpid(k2, NULL, 0);
        umount(at("x"));
        unlink(at("file"));
        rmdir(at("x/old"));
        rmdir(at("x"));
        rmdir(at("plain/old"));
        rmdir(at("plain"));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
}

static void pivot_sequence(void) {
    mkdir(at("newroot"), 0755);
    mkdir(at("newroot/old"), 0755);
    mkdir(at("newroot/proc"), 0755);
    int fd = open(at("newroot/marker"), O_CREAT | O_WRONLY, 0644);
    write(fd, "marker\n", 7);
    close(fd);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        chdir(base);
        printf("unshare=%s\n", err(unshare(CLONE_NEWNS)));
        printf("bind onto itself=%s\n",
               err(mount(at("newroot"), at("newroot"), NULL, MS_BIND, NULL)));
        printf("pivot_root=%s\n", err(pivot(at("newroot"), at("newroot/old"))));
        char cwd[256] = "", old_base[300];
        snprintf(old_base, sizeof old_base, "/old%s", base);
        /* The working directory stays where it was, now below /old. */
        printf("cwd below /old=%s\n", !getcwd(cwd, sizeof cwd) ? strerrorname_np(errno)
                                       : strcmp(cwd, old_base) == 0 ? "yes" : cwd);
        printf("marker at /=%s\n", err(access("/marker", F_OK)));
        printf("old root at /old=%s\n", err(access(old_base, F_OK)));
        printf("mount proc=%s\n", err(mount("proc", "/proc", "proc", 0, NULL)));
        printf("/old listed=%d\n", listed("/old"));
        printf("umount -l /old=%s\n", err(umount2("/old", MNT_DETACH)));
        printf("old root gone=%s\n", err(access(old_base, F_OK)));
        show_all();
        chdir("/");
        printf("cwd after chdir /=%s\n", getcwd(cwd, sizeof cwd) ? cwd : strerrorname_np(errno));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    printf("parent: root untouched=%s\n", err(access(at("newroot/marker"), F_OK)));
    printf("parent: new root not a mount here=%d\n", listed(at("newroot")));
    unlink(at("newroot/marker"));
    rmdir(at("newroot/old"));
    rmdir(at("newroot/proc"));
    rmdir(at("newroot"));
}

/* The container runtimes' way: pivot_root(".", ".") stacks the old root on the new one, and
 * umount2(".", MNT_DETACH) takes it off. */
static void pivot_dot(void) {
    mkdir(at("dot"), 0755);
    int fd = open(at("dot/marker"), O_CREAT | O_WRONLY, 0644);
    close(fd);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        unshare(CLONE_NEWNS);
        mount(at("dot"), at("dot"), NULL, MS_BIND, NULL);
        chdir(at("dot"));
        printf("dot: pivot_root(., .)=%s\n", err(pivot(".", ".")));
        printf("dot: umount2(., MNT_DETACH)=%s\n", err(umount2(".", MNT_DETACH)));
        printf("dot: chdir /=%s\n", err(chdir("/")));
        char cwd[256] = "";
        printf("dot: cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : strerrorname_np(errno));
        printf("dot: marker=%s\n", err(access("/marker", F_OK)));
        printf("dot: old root gone=%s\n", err(access(base, F_OK)));
        printf("dot: umount2(/, MNT_DETACH) again=%s\n", err(umount2("/", MNT_DETACH)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    unlink(at("dot/marker"));
    rmdir(at("dot"));
}

/* After chroot(2), mountinfo lists what lies below the new root, from it. */
static void chrooted(void) {
    mkdir(at("ch"), 0755);
    mount("tmpfs", at("ch"), "tmpfs", 0, NULL);
    mkdir(at("ch/sub"), 0755);
    mkdir(at("ch/proc"), 0755);
    mount("tmpfs", at("ch/sub"), "tmpfs", 0, NULL);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        printf("chroot=%s\n", err(chroot(at("ch"))));
        chdir("/");
        printf("mount proc=%s\n", err(mount("proc", "/proc", "proc", 0, NULL)));
        show_all();
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    umount2(at("ch"), MNT_DETACH);
    rmdir(at("ch"));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(base, "/tmp/ns-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    chmod(base, 0755);
    /* Everything below on a tmpfs of its own, so mountinfo roots read the same everywhere. */
    mount("tmpfs", base, "tmpfs", 0, "mode=755");
    separate_trees();
    shared_across();
    clone_newns();
    pivot_errors();
    pivot_sequence();
    pivot_dot();
    chrooted();
    umount(base);
    rmdir(base);
    printf("done\n");
    return 0;
}
