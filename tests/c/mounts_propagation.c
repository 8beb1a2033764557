/* Propagation types as flags on mounts: MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE (with
 * MS_REC for a subtree) and how /proc/self/mountinfo shows them (shared:N, master:N,
 * unbindable); binds of a shared mount are its peers; a mount made on a shared mount is
 * shared; a lone shared mount made a slave becomes private and its slaves too; mounts and
 * unmounts propagate to peers and slaves, not from a slave back. Peer group numbers are
 * compared, not printed. Natively in a private mount namespace (unshare(2)); the
 * sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
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

/* The number after "kind:" in the optional fields of mount point `rel` (the last mount
 * there); 0 if absent; -1 if "unbindable" is asked and present. */
static long field(const char *rel, const char *kind) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024];
    long v = 0;
    while (f && fgets(line, sizeof line, f)) {
        char mp[512];
        if (sscanf(line, "%*d %*d %*s %*s %511s", mp) != 1 || strcmp(mp, at(rel)) != 0)
            continue;
        v = 0;
        char *dash = strstr(line, " - ");
        if (dash) *dash = 0;
        char key[32];
        snprintf(key, sizeof key, " %s", kind);
        char *p = strstr(line, key);
        if (p) v = strcmp(kind, "unbindable") == 0 ? -1 : strtol(p + strlen(key) + 1, NULL, 10);
    }
    if (f) fclose(f);
    return v;
}

static void show(const char *rel) {
    long s = field(rel, "shared"), m = field(rel, "master"), u = field(rel, "unbindable");
    printf("  %s:%s%s%s\n", rel, s ? " shared" : "", m ? " master" : "",
           u ? " unbindable" : (!s && !m ? " private" : ""));
}

static int is_listed(const char *rel) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024], mp[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1 && strcmp(mp, at(rel)) == 0) n++;
    if (f) fclose(f);
    return n;
}

static void put(const char *rel, const char *text) {
    FILE *f = fopen(at(rel), "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char *get(const char *rel) {
    static char buf[64];
    FILE *f = fopen(at(rel), "r");
    if (!f) return strerrorname_np(errno);
    buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
    fclose(f);
    return buf;
}

/* Mount events between peers and from a master to its slaves. */
static void events(void) {
    for (const char *d = "p\0q\0r\0s\0"; *d; d += strlen(d) + 1) mkdir(at(d), 0755);
    mount("tmpfs", at("p"), "tmpfs", 0, NULL);
    mount(NULL, at("p"), NULL, MS_SHARED, NULL);
    for (const char *d = "p/d1\0p/d2\0p/d3\0p/sub\0p/sub/e\0p/other\0"; *d; d += strlen(d) + 1)
        mkdir(at(d), 0755);
    mount(at("p"), at("q"), NULL, MS_BIND, NULL);
    mount(at("p"), at("r"), NULL, MS_BIND, NULL);
    mount(NULL, at("r"), NULL, MS_SLAVE, NULL);
    mount(at("p/sub"), at("s"), NULL, MS_BIND, NULL);
    printf("events: mount on p=%s\n", err(mount("tmpfs", at("p/d1"), "tmpfs", 0, NULL)));
    printf("  at the peer q=%d, at the slave r=%d\n", is_listed("q/d1"), is_listed("r/d1"));
    printf("  q's copy a peer of p's=%d, r's a slave of it=%d\n",
           field("q/d1", "shared") == field("p/d1", "shared") && field("p/d1", "shared"),
           field("r/d1", "master") == field("p/d1", "shared"));
    put("q/d1/f", "one filesystem");
    printf("  written at q, read at r=%s\n", get("r/d1/f"));
    printf("events: mount on the slave r=%s\n", err(mount("tmpfs", at("r/d2"), "tmpfs", 0, NULL)));
    printf("  at p=%d, at q=%d\n", is_listed("p/d2"), is_listed("q/d2"));
    printf("events: mount on the peer q=%s\n", err(mount("tmpfs", at("q/d3"), "tmpfs", 0, NULL)));
    printf("  at p=%d, at r=%d\n", is_listed("p/d3"), is_listed("r/d3"));
    printf("events: mount below the bound subdirectory=%s\n",
           err(mount("tmpfs", at("p/sub/e"), "tmpfs", 0, NULL)));
    printf("  at s/e=%d, at q/sub/e=%d\n", is_listed("s/e"), is_listed("q/sub/e"));
    mount("tmpfs", at("p/other"), "tmpfs", 0, NULL);
    printf("  outside it: s lists nothing new=%d\n", is_listed("s/other"));
    /* A recursive bind onto a shared mount propagates each mount it copies. */
    mkdir(at("t"), 0755);
    mount("tmpfs", at("t"), "tmpfs", 0, NULL);
    mkdir(at("t/s"), 0755);
    mount("tmpfs", at("t/s"), "tmpfs", 0, NULL);
    put("t/s/f", "deep");
    mkdir(at("p/x"), 0755);
    printf("events: recursive bind onto p=%s\n",
           err(mount(at("t"), at("p/x"), NULL, MS_BIND | MS_REC, NULL)));
    printf("  q/x=%d q/x/s=%d r/x/s=%d q/x/s/f=%s\n", is_listed("q/x"), is_listed("q/x/s"),
           is_listed("r/x/s"), get("q/x/s/f"));
    printf("  p/x/s shared now=%d\n", field("p/x/s", "shared") != 0);
    umount2(at("p/x"), MNT_DETACH);
    printf("  detached at q too=%d\n", is_listed("q/x/s") + is_listed("q/x"));
    umount2(at("t"), MNT_DETACH);
    rmdir(at("t"));
    printf("events: umount on p=%s\n", err(umount(at("p/d1"))));
    printf("  at q=%d, at r=%d\n", is_listed("q/d1"), is_listed("r/d1"));
    printf("events: umount on q=%s\n", err(umount(at("q/d3"))));
    printf("  at p=%d, at r=%d\n", is_listed("p/d3"), is_listed("r/d3"));
    for (const char *d = "s\0r\0q\0p\0"; *d; d += strlen(d) + 1) umount2(at(d), MNT_DETACH);
    for (const char *d = "p\0q\0r\0s\0"; *d; d += strlen(d) + 1) rmdir(at(d));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    strcpy(base, "/tmp/propagation-XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    mkdir(at("a"), 0755);
    mkdir(at("b"), 0755);
    mount("tmpfs", at("a"), "tmpfs", 0, NULL);
    show("a");
    printf("shared=%s\n", err(mount(NULL, at("a"), NULL, MS_SHARED, NULL)));
    show("a");
    printf("shared again keeps the group=%d\n",
           (mount(NULL, at("a"), NULL, MS_SHARED, NULL), field("a", "shared")) ==
               field("a", "shared"));
    mkdir(at("a/s"), 0755);
    printf("mount on a lone shared mount=%s\n", err(mount("tmpfs", at("a/s"), "tmpfs", 0, NULL)));
    show("a/s");
    printf("its own group=%d\n", field("a/s", "shared") != field("a", "shared"));
    umount(at("a/s"));
    printf("bind of a shared mount=%s\n", err(mount(at("a"), at("b"), NULL, MS_BIND, NULL)));
    show("b");
    printf("b peer of a=%d\n", field("b", "shared") == field("a", "shared"));
    printf("b slave=%s\n", err(mount(NULL, at("b"), NULL, MS_SLAVE, NULL)));
    show("b");
    printf("b's master is a's group=%d\n", field("b", "master") == field("a", "shared"));
    printf("b shared again=%s\n", err(mount(NULL, at("b"), NULL, MS_SHARED, NULL)));
    show("b");
    printf("b in a new group=%d\n", field("b", "shared") != field("a", "shared"));
    printf("b private=%s\n", err(mount(NULL, at("b"), NULL, MS_PRIVATE, NULL)));
    show("b");
    printf("umount b=%s\n", err(umount(at("b"))));
    printf("bind again=%s\n", err(mount(at("a"), at("b"), NULL, MS_BIND, NULL)));
    printf("b slave=%s\n", err(mount(NULL, at("b"), NULL, MS_SLAVE, NULL)));
    show("b");
    /* a is alone in its group now: as a slave with no master it is private, and so is b. */
    printf("lone a made slave=%s\n", err(mount(NULL, at("a"), NULL, MS_SLAVE, NULL)));
    show("a");
    show("b");
    /* A slave of a shared a loses its master when a is unmounted... */
    umount(at("b"));
    mount(NULL, at("a"), NULL, MS_SHARED, NULL);
    mkdir(at("c"), 0755);
    mount(at("a"), at("b"), NULL, MS_BIND, NULL);
    mount(NULL, at("b"), NULL, MS_SLAVE, NULL);
    mount(at("b"), at("c"), NULL, MS_BIND, NULL);
    show("c");
    printf("c slave of a's group too=%d\n", field("c", "master") == field("a", "shared"));
    printf("umount a=%s\n", err(umount2(at("a"), MNT_DETACH)));
    show("b");
    show("c");
    umount(at("c"));
    umount(at("b"));
    rmdir(at("c"));
    mount("tmpfs", at("a"), "tmpfs", 0, NULL);
    mkdir(at("a/s"), 0755);
    printf("unbindable=%s\n", err(mount(NULL, at("a"), NULL, MS_UNBINDABLE, NULL)));
    show("a");
    printf("private=%s\n", err(mount(NULL, at("a"), NULL, MS_PRIVATE, NULL)));
    show("a");
    mount("tmpfs", at("a/s"), "tmpfs", 0, NULL);
    printf("recursive shared=%s\n", err(mount(NULL, at("a"), NULL, MS_SHARED | MS_REC, NULL)));
    show("a");
    show("a/s");
    printf("separate groups=%d\n", field("a/s", "shared") != field("a", "shared"));
    printf("recursive private=%s\n", err(mount(NULL, at("a"), NULL, MS_PRIVATE | MS_REC, NULL)));
    show("a");
    show("a/s");
    printf("shared|private=%s\n", err(mount(NULL, at("a"), NULL, MS_SHARED | MS_PRIVATE, NULL)));
    printf("shared|nosuid=%s\n", err(mount(NULL, at("a"), NULL, MS_SHARED | MS_NOSUID, NULL)));
    show("a");
    printf("private|rdonly=%s\n", err(mount(NULL, at("a"), NULL, MS_PRIVATE | MS_RDONLY, NULL)));
    printf("slave|silent=%s\n", err(mount(NULL, at("a"), NULL, MS_SLAVE | MS_SILENT, NULL)));
    printf("on a non-mount=%s\n", err(mount(NULL, base, NULL, MS_SHARED, NULL)));
    umount(at("a/s"));
    umount(at("a"));
    events();
    rmdir(at("a"));
    rmdir(at("b"));
    rmdir(base);
    printf("done\n");
    return 0;
}
