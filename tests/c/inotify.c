/* inotify(7): inotify_init/inotify_init1 flags, inotify_add_watch (masks, IN_MASK_ADD,
 * IN_MASK_CREATE, IN_ONLYDIR, IN_DONT_FOLLOW, IN_ONESHOT, the same wd for the same file),
 * inotify_rm_watch (IN_IGNORED), the records read(2) returns (name padding, EINVAL for a short
 * buffer), poll/epoll readiness, FIONREAD, and the events of creating, writing, closing,
 * reading, chmod, renaming (shared cookie), mkdir/rmdir and unlinking files in a directory
 * under argv[1] (tmpfs) and argv[2] (the root file system). One line per event or case. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static const struct {
    unsigned bit;
    const char *name;
} names[] = {
    {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"}, {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
    {IN_ISDIR, "ISDIR"},
};

static int base_wd;
static unsigned last_cookie;

/* Reads every queued event and prints one line each: wd (relative to the first watch), mask
 * names, whether the cookie is set and equal to the previous one, name and its padded len. */
static void drain(int fd, const char *what) {
    char buf[4096] __attribute__((aligned(8)));
    int avail = -1;
    ioctl(fd, FIONREAD, &avail);
    long n = read(fd, buf, sizeof buf);
    if (n < 0) {
        printf("%s: read %s\n", what, strerrorname_np(errno));
        return;
    }
    printf("%s: fionread=%d read=%ld\n", what, avail, n);
    for (long i = 0; i < n;) {
        struct inotify_event *e = (struct inotify_event *)(buf + i);
        char m[256] = "";
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (e->mask & names[k].bit) {
                strcat(m, *m ? "|" : "");
                strcat(m, names[k].name);
            }
        const char *ck = "-";
        if (e->cookie) {
            ck = e->cookie == last_cookie ? "same" : "new";
            last_cookie = e->cookie;
        }
        printf("  wd=%d %s cookie=%s name='%s' len=%u\n", e->wd - base_wd, m, ck, e->len ? e->name : "",
               e->len);
        i += sizeof *e + e->len;
    }
}

static void tree(const char *root, const char *tag) {
    char d[4096], p[4200], q[4200];
    snprintf(d, sizeof d, "%s/inotify.%d", root, getpid());
    mkdir(d, 0755);
    printf("== %s\n", tag);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int wd = inotify_add_watch(in, d, IN_ALL_EVENTS);
    base_wd = wd;
    struct pollfd pf = {.fd = in, .events = POLLIN};
    printf("poll empty=%d\n", poll(&pf, 1, 0));

    snprintf(p, sizeof p, "%s/a", d);
    int f = open(p, O_CREAT | O_WRONLY, 0644);
    write(f, "x", 1);
    write(f, "y", 1);
    close(f);
    int ready = poll(&pf, 1, 0);
    printf("poll ready=%d revents=%x\n", ready, pf.revents);
    drain(in, "create/write/close");
    f = open(p, O_RDONLY);
    char c[4];
    read(f, c, sizeof c);
    close(f);
    chmod(p, 0600);
    drain(in, "read/chmod");
    f = open(p, O_WRONLY | O_TRUNC);
    close(f);
    drain(in, "trunc");
    snprintf(q, sizeof q, "%s/a_renamed_longer_name", d);
    rename(p, q);
    drain(in, "rename");
    snprintf(p, sizeof p, "%s/sub", d);
    mkdir(p, 0755);
    int ws = inotify_add_watch(in, p, IN_DELETE_SELF);
    rmdir(p);
    drain(in, "mkdir/rmdir");
    (void)ws;
    int wf = inotify_add_watch(in, q, IN_ATTRIB | IN_DELETE_SELF | IN_MODIFY);
    printf("file wd=%d\n", wf - base_wd);
    unlink(q);
    drain(in, "unlink watched");

    /* Same inode, same wd; masks. */
    printf("same wd=%d\n", inotify_add_watch(in, d, IN_CREATE) == wd);
    snprintf(p, sizeof p, "%s/link", d);
    symlink(".", p);
    printf("via symlink same wd=%d\n", inotify_add_watch(in, p, IN_CREATE | IN_MASK_ADD) == wd);
    int wl = inotify_add_watch(in, p, IN_ATTRIB | IN_DONT_FOLLOW);
    printf("dont_follow new wd=%d\n", wl != wd && wl > 0);
    printf("mask_create existing=%s\n", err(inotify_add_watch(in, d, IN_CREATE | IN_MASK_CREATE)));
    printf("mask_add|mask_create=%s\n",
           err(inotify_add_watch(in, d, IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE)));
    printf("onlydir on symlink nofollow=%s\n",
           err(inotify_add_watch(in, p, IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW)));
    unlink(p);
    drain(in, "symlink (create only now)");

    /* Names padded to 16 bytes with their NUL. */
    const char *nm[] = {"abc", "fifteen_chars_x", "sixteen_chars_xy"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", d, nm[i]);
        mkdir(p, 0700);
        rmdir(p);
    }
    drain(in, "padding");

    /* A buffer too small for the first record. */
    snprintf(p, sizeof p, "%s/x", d);
    close(open(p, O_CREAT | O_RDONLY, 0600));
    char small[sizeof(struct inotify_event) + 1];
    printf("short read=%s\n", err(read(in, small, sizeof small)));
    drain(in, "after short read");

    /* IN_ONESHOT. */
    int wo = inotify_add_watch(in, p, IN_OPEN | IN_ONESHOT);
    inotify_rm_watch(in, wd);
    close(open(p, O_RDONLY));
    close(open(p, O_RDONLY));
    (void)wo;
    drain(in, "oneshot and rm_watch");
    printf("rm_watch again=%s\n", err(inotify_rm_watch(in, wd)));
    unlink(p);
    drain(in, "unwatched unlink");

    /* Closing by dup2 over the descriptor, and by close_range, as by close. */
    char cq[4200];
    snprintf(cq, sizeof cq, "%s/q", d);
    close(open(cq, O_CREAT | O_WRONLY, 0644));
    int wq = inotify_add_watch(in, cq, IN_CLOSE);
    int fr = open(cq, O_RDONLY);
    int fw = open(cq, O_WRONLY);
    int spare = open("/dev/null", O_RDONLY);
    dup2(spare, fr);
    syscall(SYS_close_range, (unsigned)fw, (unsigned)fw, 0u);
    close(spare);
    close(fr);
    drain(in, "dup2 and close_range close");

    /* The event comes with the description's last reference: not at close of one of two
     * duplicates; at the end of a process that never closed it; at close-on-exec. */
    int f1 = open(cq, O_WRONLY);
    int f2 = dup(f1);
    close(f1);
    drain(in, "one of two duplicates closed");
    close(f2);
    drain(in, "last duplicate closed");
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        open(cq, O_WRONLY);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    drain(in, "child exited with it open");
    kid = fork();
    if (kid == 0) {
        open(cq, O_RDONLY | O_CLOEXEC);
        execl("/bin/true", "true", (char *)NULL);
        _exit(1);
    }
    waitpid(kid, NULL, 0);
    drain(in, "closed on exec");
    inotify_rm_watch(in, wq);
    unlink(cq);
    drain(in, "q gone");
    close(in);
    rmdir(d);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: inotify TMPFS_DIR ROOT_DIR\n");
        return 2;
    }
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    printf("init1 cloexec=%d nonblock=%d\n", (fcntl(in, F_GETFD) & FD_CLOEXEC) != 0,
           (fcntl(in, F_GETFL) & O_NONBLOCK) != 0);
    char b[64];
    printf("read empty=%s\n", err(read(in, b, sizeof b)));
    printf("write=%s\n", err(write(in, b, 8)));
    printf("init1 bad flags=%s\n", err(inotify_init1(1)));
    int old = inotify_init();
    printf("init blocking=%d\n", (fcntl(old, F_GETFL) & O_NONBLOCK) != 0);
    printf("bad fd=%s\n", err(inotify_add_watch(99, "/", IN_CREATE)));
    printf("not inotify=%s\n", err(inotify_add_watch(1, "/", IN_CREATE)));
    printf("zero mask=%s\n", err(inotify_add_watch(in, "/", 0)));
    printf("flags only mask=%s\n", err(inotify_add_watch(in, "/", IN_ONLYDIR)));
    printf("missing path=%s\n", err(inotify_add_watch(in, "/nonexistent_dir_xyz", IN_CREATE)));
    printf("onlydir on file=%s\n", err(inotify_add_watch(in, "/etc/passwd", IN_CREATE | IN_ONLYDIR)));
    printf("rm bad wd=%s\n", err(inotify_rm_watch(in, 12345)));
    close(in);

    /* A blocking read and epoll, woken by a child's change. */
    char d[4096];
    snprintf(d, sizeof d, "%s/inotify_wait.%d", argv[1], getpid());
    mkdir(d, 0755);
    base_wd = inotify_add_watch(old, d, IN_CREATE);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, old, &ev);
    printf("epoll before=%d\n", epoll_wait(ep, &out, 1, 0));
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        char p[4200];
        snprintf(p, sizeof p, "%s/from_child", d);
        close(open(p, O_CREAT | O_WRONLY, 0644));
        _exit(0);
    }
    printf("epoll wait=%d\n", epoll_wait(ep, &out, 1, -1));
    drain(old, "blocking");
    waitpid(pid, NULL, 0);
    char p[4200];
    snprintf(p, sizeof p, "%s/from_child", d);
    unlink(p);
    rmdir(d);
    close(ep);
    close(old);

    tree(argv[1], "tmpfs");
    tree(argv[2], "root");
    return 0;
}
