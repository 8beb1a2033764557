/* Credentials and scheduling attributes: setuid(2), setgid(2), setreuid(2), setregid(2),
 * setfsuid(2), setfsgid(2), setgroups(2) with their permission rules and capability fix-ups,
 * getpriority(2)/setpriority(2) with RLIMIT_NICE, sched_setscheduler(2) and its family, and
 * personality(2). Run as root; every change happens in a forked child. Prints one line per
 * case; the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void ids(const char *what) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("%s: uid=%u/%u/%u fsuid=%d gid=%u/%u/%u fsgid=%d\n", what, r, e, s, setfsuid(-1), gr,
           ge, gs, setfsgid(-1));
}

/* The low word of the effective capability set. */
static unsigned eff_caps(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    syscall(SYS_capget, &h, d);
    return d[0].effective;
}

static void in_child(void (*f)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        f();
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("child failed: %x\n", st);
}

static void uid_rules(void) {
    ids("start");
    printf("setuid(-1)=%s\n", err(setuid(-1)));
    printf("setreuid(1000,1001)=%s\n", err(setreuid(1000, 1001)));
    ids("after setreuid");
    printf("caps after leaving root=%x\n", eff_caps());
    printf("setuid(0)=%s\n", err(setuid(0)));
    printf("setreuid(-1,1000)=%s\n", err(setreuid(-1, 1000)));
    ids("effective to real");
    printf("setreuid(1001,-1)=%s\n", err(setreuid(1001, -1)));
    ids("real to old effective");
    printf("setreuid(2000,-1)=%s\n", err(setreuid(2000, -1)));
    printf("setuid(1001)=%s\n", err(setuid(1001)));
    printf("setuid(1000)=%s\n", err(setuid(1000)));
    ids("setuid unprivileged");
}

static void saved_root(void) {
    /* Effective uid leaves 0 but the saved one keeps it: come back. */
    printf("setresuid(-1,1000,0)=%s\n", err(setresuid(-1, 1000, 0)));
    printf("caps with euid 1000=%x\n", eff_caps());
    printf("setuid(0) back=%s\n", err(setuid(0)));
    printf("caps back=%x\n", eff_caps() != 0);
    ids("back to root");
    printf("setuid(1234) as root=%s\n", err(setuid(1234)));
    ids("setuid privileged");
}

static void gid_rules(void) {
    gid_t g[3] = {30, 10, 20};
    printf("setgroups=%s\n", err(setgroups(3, g)));
    gid_t out[8];
    int n = getgroups(8, out);
    printf("getgroups=%d", n);
    for (int i = 0; i < n; i++) printf(" %u", out[i]);
    printf("\n");
    printf("setgroups(-1)=%s\n", err(syscall(SYS_setgroups, -1, g)));
    printf("setgroups efault=%s\n", err(syscall(SYS_setgroups, 2, (void *)8)));
    printf("setregid(100,200)=%s\n", err(setregid(100, 200)));
    ids("after setregid");
    printf("setgid(300)=%s\n", err(setgid(300)));
    ids("after setgid");
    printf("setuid(1000)=%s\n", err(setuid(1000)));
    printf("setgid(300) unprivileged=%s\n", err(setgid(300)));
    printf("setgid(200) unprivileged=%s\n", err(setgid(200)));
    ids("unprivileged gids");
    printf("setregid(200,100)=%s\n", err(setregid(200, 100)));
    printf("setgroups unprivileged=%s\n", err(setgroups(3, g)));
}

static void fs_ids(void) {
    printf("setfsuid(1000) returns=%d\n", setfsuid(1000));
    printf("fs caps dropped=%d\n", (eff_caps() & 0x1f) == 0);
    printf("setfsuid(0) returns=%d\n", setfsuid(0));
    printf("fs caps back=%d\n", (eff_caps() & 0x1f) == 0x1f);
    printf("setfsgid(55) returns=%d\n", setfsgid(55));
    printf("setfsgid(-1) returns=%d\n", setfsgid(-1));
    setresuid(1000, 1000, 1000);
    printf("unprivileged setfsuid(5) returns=%d\n", setfsuid(5));
    printf("fsuid stays=%d\n", setfsuid(-1));
}

static void nice_rules(void) {
    setpriority(PRIO_PROCESS, 0, 0); /* whatever the test runner's was */
    errno = 0;
    printf("nice start=%d\n", getpriority(PRIO_PROCESS, 0));
    printf("raw getpriority=%ld\n", syscall(SYS_getpriority, PRIO_PROCESS, 0));
    printf("setpriority(5)=%s\n", err(setpriority(PRIO_PROCESS, 0, 5)));
    printf("nice now=%d\n", getpriority(PRIO_PROCESS, 0));
    printf("raw=%ld\n", syscall(SYS_getpriority, PRIO_PROCESS, 0));
    printf("setpriority(25) clamps=%s\n", err(setpriority(PRIO_PROCESS, 0, 25)));
    printf("nice=%d\n", getpriority(PRIO_PROCESS, 0));
    printf("root lowers to -5=%s\n", err(setpriority(PRIO_PROCESS, 0, -5)));
    printf("nice=%d\n", getpriority(PRIO_PROCESS, 0));
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    int prio = 0, nice = 0;
    /* Fields after the name: state(3) ... priority(18) nice(19). */
    for (int field = 3; p && field <= 19; field++) {
        p = strchr(p + 1, ' ');
        if (p && field == 18) prio = atoi(p + 1);
        if (p && field == 19) nice = atoi(p + 1);
    }
    printf("/proc/self/stat priority=%d nice=%d\n", prio, nice);
    printf("bad which=%s\n", err(setpriority(7, 0, 0)));
    errno = 0;
    int r = getpriority(PRIO_PROCESS, 999999);
    printf("no such pid=%d %s\n", r, strerrorname_np(errno));
    /* A process group of this process alone. */
    setpgid(0, 0);
    errno = 0;
    r = getpriority(PRIO_PGRP, 0);
    printf("pgrp=%d errno=%d\n", r, errno);
    /* A user with processes of this test only: a child as uid 4242 with nice 7. */
    int ready[2];
    pipe(ready);
    pid_t user_kid = fork();
    if (user_kid == 0) {
        setpriority(PRIO_PROCESS, 0, 7);
        setresuid(4242, 4242, 4242);
        write(ready[1], "x", 1);
        pause();
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    errno = 0;
    r = getpriority(PRIO_USER, 4242);
    printf("user 4242=%d errno=%d\n", r, errno);
    printf("set user 4242=%s\n", err(setpriority(PRIO_USER, 4242, 9)));
    printf("user 4242 now=%d\n", getpriority(PRIO_PROCESS, user_kid));
    kill(user_kid, SIGKILL);
    waitpid(user_kid, NULL, 0);
    pid_t parent = getpid();
    /* No room to lower the nice value without CAP_SYS_NICE (lowering a limit needs no
     * privilege; raising one would need CAP_SYS_RESOURCE, which the test cannot assume). */
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_NICE, &rl);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        errno = 0;
        printf("child inherits nice=%d\n", getpriority(PRIO_PROCESS, 0));
        setresuid(1000, 1000, 1000);
        printf("unprivileged to -10=%s\n", err(setpriority(PRIO_PROCESS, 0, -10)));
        printf("unprivileged raise to 10=%s\n", err(setpriority(PRIO_PROCESS, 0, 10)));
        printf("another user's process=%s\n", err(setpriority(PRIO_PROCESS, parent, 3)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
}

static void sched_rules(void) {
    struct sched_param sp = {0};
    sched_setscheduler(0, SCHED_OTHER, &sp); /* whatever the test runner's was */
    printf("policy start=%d\n", sched_getscheduler(0));
    printf("fifo max=%d min=%d other max=%d min=%d bad=%s\n", sched_get_priority_max(SCHED_FIFO),
           sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_OTHER),
           sched_get_priority_min(SCHED_OTHER), err(sched_get_priority_max(42)));
    printf("rr max=%d idle max=%d\n", sched_get_priority_max(SCHED_RR),
           sched_get_priority_max(SCHED_IDLE));
    printf("batch=%s\n", err(sched_setscheduler(0, SCHED_BATCH, &sp)));
    printf("policy=%d\n", sched_getscheduler(0));
    printf("idle=%s\n", err(sched_setscheduler(0, SCHED_IDLE, &sp)));
    printf("policy=%d\n", sched_getscheduler(0));
    printf("root leaves idle=%s\n", err(sched_setscheduler(0, SCHED_OTHER, &sp)));
    printf("policy=%d\n", sched_getscheduler(0));
    printf("fifo prio 0=%s\n", err(sched_setscheduler(0, SCHED_FIFO, &sp)));
    sp.sched_priority = 5;
    printf("other prio 5=%s\n", err(sched_setscheduler(0, SCHED_OTHER, &sp)));
    printf("bad policy=%s\n", err(sched_setscheduler(0, 42, &sp)));
    printf("null param=%s\n", err(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL)));
    printf("no such pid=%s\n", err(sched_getscheduler(999999)));
    printf("negative pid=%s\n", err(sched_getscheduler(-1)));
    sp.sched_priority = 7;
    printf("getparam=%s\n", err(sched_getparam(0, &sp)));
    printf("prio=%d\n", sp.sched_priority);
    sp.sched_priority = 0;
    printf("setparam=%s\n", err(sched_setparam(0, &sp)));
    struct timespec ts;
    printf("rr_get_interval=%s\n", err(sched_rr_get_interval(0, &ts)));
    printf("rr_get_interval efault=%s\n", err(syscall(SYS_sched_rr_get_interval, 0, 8)));
    sched_setscheduler(0, SCHED_IDLE, &sp);
    setresuid(1000, 1000, 1000);
    printf("unprivileged leaves idle=%s\n", err(sched_setscheduler(0, SCHED_OTHER, &sp)));
    sp.sched_priority = 1;
    printf("unprivileged fifo=%s\n", err(sched_setscheduler(0, SCHED_FIFO, &sp)));
    sp.sched_priority = 0;
    printf("unprivileged batch from idle=%s\n", err(sched_setscheduler(0, SCHED_BATCH, &sp)));
}

static void persona(void) {
    printf("personality query=%x\n", personality(0xffffffff));
    printf("set ADDR_NO_RANDOMIZE old=%x\n", personality(ADDR_NO_RANDOMIZE));
    printf("query=%x\n", personality(0xffffffff));
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        printf("child query=%x\n", personality(0xffffffff));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    printf("restore old=%x\n", personality(0));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    in_child(uid_rules);
    in_child(saved_root);
    in_child(gid_rules);
    in_child(fs_ids);
    in_child(nice_rules);
    in_child(sched_rules);
    in_child(persona);
    printf("done\n");
    return 0;
}
