/* devpts mount options (fs/devpts/inode.c): gid= and mode= give new /dev/pts/N nodes their
 * group and permission bits, ptmxmode= the instance's ptmx node, max= bounds the pairs, unknown
 * or malformed options are EINVAL, and mountinfo shows them as devpts_show_options prints them.
 * Natively in a private mount namespace (unshare(2)) with fresh devpts instances; the sandbox
 * must print the same. Pair numbers are not printed (the sandbox's instances share one
 * numbering). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char dir[64];

/* The mount options, type, source and super options of the mount at `dir`. */
static void show_mountinfo(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) {
        printf("mountinfo: %s\n", strerrorname_np(errno));
        return;
    }
    char line[1024];
    const char *found = NULL;
    static char last[1024];
    while (fgets(line, sizeof line, f)) {
        char point[512], opts[256];
        if (sscanf(line, "%*d %*d %*s %*s %511s %255s", point, opts) != 2) continue;
        if (strcmp(point, dir) != 0) continue;
        const char *sep = strstr(line, " - ");
        if (!sep) continue;
        snprintf(last, sizeof last, "mount opts %s; %s", opts, sep + 3);
        found = last;
    }
    fclose(f);
    printf("%s", found ? found : "not in mountinfo\n");
}

static void show_node(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) {
        printf("%s: stat=%s\n", what, strerrorname_np(errno));
        return;
    }
    printf("%s: chr=%d mode=%03o uid=%s gid=%u\n", what, S_ISCHR(st.st_mode),
           st.st_mode & 07777, st.st_uid == geteuid() ? "mine" : "other", st.st_gid);
}

/* Opens the instance's ptmx, unlocks the pair and shows its replica node. Returns the master. */
static int new_pair(const char *what) {
    char p[128];
    snprintf(p, sizeof p, "%s/ptmx", dir);
    int m = open(p, O_RDWR | O_NOCTTY);
    if (m < 0) {
        printf("%s: open ptmx=%s\n", what, strerrorname_np(errno));
        return -1;
    }
    int n = -1, unlock = 0;
    if (ioctl(m, TIOCGPTN, &n) < 0 || ioctl(m, TIOCSPTLCK, &unlock) < 0) {
        printf("%s: ioctl=%s\n", what, strerrorname_np(errno));
        return m;
    }
    snprintf(p, sizeof p, "%s/%d", dir, n);
    show_node(what, p);
    return m;
}

static void instance(const char *data, int pairs) {
    printf("== %s\n", data);
    long r = mount("devpts", dir, "devpts", MS_NOSUID | MS_NOEXEC, data);
    printf("mount=%s\n", err(r));
    if (r < 0) return;
    show_mountinfo();
    char p[128];
    snprintf(p, sizeof p, "%s/ptmx", dir);
    show_node("ptmx", p);
    int fds[8];
    int made = 0;
    for (int i = 0; i < pairs && i < 8; i++) {
        char what[32];
        snprintf(what, sizeof what, "pair #%d", i);
        fds[i] = new_pair(what);
        if (fds[i] >= 0) made = i + 1;
    }
    for (int i = 0; i < made; i++)
        if (fds[i] >= 0) close(fds[i]);
    printf("umount=%s\n", err(umount(dir)));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(dir, "/tmp/devpts-opts-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* runc's and Docker's devpts. */
    instance("newinstance,ptmxmode=0666,mode=0620,gid=5", 1);
    /* Linux's defaults: mode 600, ptmx 000 (root still opens it). */
    instance("", 1);
    instance("newinstance,uid=0,gid=0,mode=0640,ptmxmode=0600,max=2", 3);
    instance("mode=1777", 1);
    const char *bad[] = {"bogus", "mode=9", "gid=x", "max=2000000", "newinstance=1", NULL};
    for (int i = 0; bad[i]; i++)
        printf("%s=%s\n", bad[i], err(mount("devpts", dir, "devpts", 0, bad[i])));
    rmdir(dir);
    printf("done\n");
    return 0;
}
