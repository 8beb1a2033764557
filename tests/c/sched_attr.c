/* sched_setattr(2)/sched_getattr(2) and their agreement with sched_setscheduler(2) and
 * setpriority(2), ioprio_set(2)/ioprio_get(2), and get_robust_list(2). Run as root; every
 * change happens in a forked child. Prints one line per case; the sandbox must print the
 * same. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLAG_RESET_ON_FORK 0x01
#define FLAG_KEEP_POLICY 0x08
#define FLAG_KEEP_PARAMS 0x10

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static long setattr(pid_t pid, struct attr *a, unsigned flags) {
    return syscall(SYS_sched_setattr, pid, a, flags);
}

static long getattr(pid_t pid, void *a, unsigned size, unsigned flags) {
    return syscall(SYS_sched_getattr, pid, a, size, flags);
}

static void show(const char *what) {
    struct attr a;
    memset(&a, 0, sizeof a);
    long r = getattr(0, &a, sizeof a, 0);
    printf("%s: getattr=%s size=%u policy=%u flags=%llx nice=%d prio=%u runtime>0=%d sched=%x "
           "nice=%d\n",
           what, err(r), a.size, a.policy, (unsigned long long)a.flags, a.nice, a.priority,
           a.runtime > 0, sched_getscheduler(0), getpriority(PRIO_PROCESS, 0));
}

static struct attr mk(uint32_t policy, int nice, uint32_t prio, uint64_t flags) {
    struct attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.policy = policy;
    a.nice = nice;
    a.priority = prio;
    a.flags = flags;
    return a;
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

/* A pid no process has: a reaped child's. */
static pid_t dead_pid(void) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

static void drop_to(uid_t uid) {
    if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)) printf("drop failed\n");
}

static void attr_sizes(void) {
    show("start");
    unsigned char buf[128];
    memset(buf, 0xaa, sizeof buf);
    long r = getattr(0, buf, 48, 0);
    uint32_t sz;
    memcpy(&sz, buf, 4);
    printf("getattr(48)=%s size=%u byte48=%x\n", err(r), sz, buf[48]);
    memset(buf, 0xaa, sizeof buf);
    r = getattr(0, buf, 100, 0);
    memcpy(&sz, buf, 4);
    printf("getattr(100)=%s size=%u byte56=%x\n", err(r), sz, buf[56]);
    printf("getattr(47)=%s\n", err(getattr(0, buf, 47, 0)));
    printf("getattr(8192)=%s\n", err(getattr(0, buf, 8192, 0)));
    printf("getattr flags=1: %s\n", err(getattr(0, buf, 56, 1)));
    printf("getattr pid -1: %s\n", err(getattr(-1, buf, 56, 0)));
    printf("getattr NULL: %s\n", err(getattr(0, NULL, 56, 0)));
    printf("getattr bad ptr: %s\n", err(getattr(0, (void *)8, 56, 0)));
    printf("getattr dead pid: %s\n", err(getattr(dead_pid(), buf, 56, 0)));

    struct attr a = mk(SCHED_BATCH, 5, 0, 0);
    a.size = 0;
    printf("setattr size 0 BATCH nice 5=%s\n", err(setattr(0, &a, 0)));
    show("after BATCH");
    a = mk(SCHED_OTHER, 3, 0, 0);
    a.size = 40;
    r = setattr(0, &a, 0);
    printf("setattr size 40=%s size now=%u\n", err(r), a.size);
    a.size = 8192;
    r = setattr(0, &a, 0);
    printf("setattr size 8192=%s size now=%u\n", err(r), a.size);
    memset(buf, 0, sizeof buf);
    a = mk(SCHED_OTHER, 3, 0, 0);
    a.size = 64;
    memcpy(buf, &a, sizeof a);
    printf("setattr size 64 zero tail=%s\n", err(setattr(0, (struct attr *)buf, 0)));
    show("after size 64");
    buf[60] = 1;
    r = setattr(0, (struct attr *)buf, 0);
    memcpy(&sz, buf, 4);
    printf("setattr size 64 tail=%s size now=%u\n", err(r), sz);
    a = mk(SCHED_OTHER, 0, 0, 0);
    printf("setattr flags arg=%s\n", err(setattr(0, &a, 1)));
    printf("setattr NULL=%s\n", err(setattr(0, NULL, 0)));
    printf("setattr bad ptr=%s\n", err(setattr(0, (struct attr *)8, 0)));
    printf("setattr pid -1=%s\n", err(setattr(-1, &a, 0)));
    printf("setattr dead pid=%s\n", err(setattr(dead_pid(), &a, 0)));
    a = mk(SCHED_OTHER, 0, 0, 0x100);
    printf("setattr bad sched_flags=%s\n", err(setattr(0, &a, 0)));
    a = mk(4, 0, 0, 0);
    printf("setattr policy 4=%s\n", err(setattr(0, &a, 0)));
    a = mk(-1, 0, 0, 0);
    printf("setattr policy -1=%s\n", err(setattr(0, &a, 0)));
    a = mk(6, 0, 0, 0);
    printf("setattr DEADLINE no params=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_FIFO, 0, 0, 0);
    printf("setattr FIFO prio 0=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_FIFO, 0, 100, 0);
    printf("setattr FIFO prio 100=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_OTHER, 0, 1, 0);
    printf("setattr OTHER prio 1=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_OTHER, 40, 0, 0);
    printf("setattr nice 40 (clamped)=%s\n", err(setattr(0, &a, 0)));
    show("after nice 40");
    a = mk(SCHED_OTHER, -30, 0, 0);
    printf("setattr nice -30 (clamped)=%s\n", err(setattr(0, &a, 0)));
    show("after nice -30");
}

static void reset_child(void) { show("forked with reset"); }

static void attr_agreement(void) {
    struct attr a = mk(SCHED_OTHER, -4, 0, 0);
    printf("setattr OTHER nice -4=%s\n", err(setattr(0, &a, 0)));
    printf("setpriority 7=%s\n", err(setpriority(PRIO_PROCESS, 0, 7)));
    show("after setpriority");
    a = mk(SCHED_FIFO, 0, 10, 0);
    printf("setattr FIFO 10=%s\n", err(setattr(0, &a, 0)));
    struct sched_param sp;
    sched_getparam(0, &sp);
    printf("getparam=%d\n", sp.sched_priority);
    show("after FIFO");
    sp.sched_priority = 20;
    printf("setscheduler RR 20=%s\n", err(sched_setscheduler(0, SCHED_RR, &sp)));
    show("after RR");
    a = mk(SCHED_IDLE, 0, 0, FLAG_KEEP_POLICY);
    a.priority = 30;
    printf("setattr KEEP_POLICY prio 30=%s\n", err(setattr(0, &a, 0)));
    show("after KEEP_POLICY");
    a = mk(SCHED_FIFO, 0, 0, FLAG_KEEP_PARAMS);
    printf("setattr FIFO KEEP_PARAMS=%s\n", err(setattr(0, &a, 0)));
    show("after KEEP_PARAMS");
    a = mk(SCHED_RR, 0, 5, FLAG_RESET_ON_FORK);
    printf("setattr RR 5 RESET_ON_FORK=%s\n", err(setattr(0, &a, 0)));
    show("with reset");
    in_child(reset_child);
    a = mk(SCHED_OTHER, -3, 0, FLAG_RESET_ON_FORK);
    printf("setattr OTHER -3 RESET_ON_FORK=%s\n", err(setattr(0, &a, 0)));
    in_child(reset_child);
    sp.sched_priority = 0;
    printf("setscheduler BATCH|RESET=%s\n",
           err(sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &sp)));
    show("after setscheduler reset");
    printf("setscheduler OTHER=%s\n", err(sched_setscheduler(0, SCHED_OTHER, &sp)));
    show("reset cleared");
}

static void attr_unprivileged(void) {
    struct attr a = mk(SCHED_OTHER, 0, 0, FLAG_RESET_ON_FORK);
    printf("setattr reset=%s\n", err(setattr(0, &a, 0)));
    pid_t parent = getppid();
    drop_to(1000);
    a = mk(SCHED_OTHER, 0, 0, 0);
    printf("unprivileged clear reset=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_OTHER, 5, 0, FLAG_RESET_ON_FORK);
    printf("unprivileged nice 5=%s\n", err(setattr(0, &a, 0)));
    a.nice = 2;
    printf("unprivileged nice 2=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_FIFO, 0, 1, FLAG_RESET_ON_FORK);
    printf("unprivileged FIFO=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_IDLE, 5, 0, FLAG_RESET_ON_FORK);
    printf("unprivileged IDLE=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_OTHER, 5, 0, FLAG_RESET_ON_FORK);
    printf("unprivileged out of IDLE=%s\n", err(setattr(0, &a, 0)));
    a = mk(SCHED_OTHER, 5, 0, 0);
    printf("unprivileged on root parent=%s\n", err(setattr(parent, &a, 0)));
    show("unprivileged end");
}

#define IOPRIO(class, data) (((class) << 13) | (data))

static long ioget(int which, int who) { return syscall(SYS_ioprio_get, which, who); }
static long ioset(int which, int who, int v) { return syscall(SYS_ioprio_set, which, who, v); }

static void io_show(const char *what) {
    long v = ioget(1, 0);
    printf("%s: ioprio=%s class=%ld data=%lx\n", what, err(v), v >> 13, v & 0x1fff);
}

static void io_grandchild(void) {
    io_show("inherited");
    printf("set BE 6=%s\n", err(ioset(1, 0, IOPRIO(2, 6))));
    long v = ioget(2, 0);
    printf("pgrp best=%lx\n", v);
    printf("pgrp set IDLE=%s\n", err(ioset(2, 0, IOPRIO(3, 0))));
    io_show("after pgrp set");
}

static void io_none_grandchild(void) { printf("pgrp of two NONE=%lx\n", ioget(2, 0)); }

static void io_pgrp(void) {
    setpgid(0, 0);
    printf("set NONE=%s\n", err(ioset(1, 0, 0)));
    printf("pgrp alone=%lx\n", ioget(2, 0));
    in_child(io_none_grandchild);
    setpriority(PRIO_PROCESS, 0, 10);
    printf("pgrp alone nice 10=%lx\n", ioget(2, 0));
    struct sched_param sp = {0};
    sched_setscheduler(0, SCHED_IDLE, &sp);
    printf("pgrp alone IDLE=%lx\n", ioget(2, 0));
    sp.sched_priority = 1;
    sched_setscheduler(0, SCHED_FIFO, &sp);
    printf("pgrp alone FIFO=%lx own=%lx\n", ioget(2, 0), ioget(1, 0));
    printf("set BE 2=%s\n", err(ioset(1, 0, IOPRIO(2, 2))));
    in_child(io_grandchild);
    io_show("pgrp leader after");
}

static void io_user(void) {
    printf("set BE 1=%s\n", err(ioset(1, 0, IOPRIO(2, 1))));
    pid_t parent = getppid();
    drop_to(4242);
    printf("user 4242=%lx\n", ioget(3, 4242));
    printf("user 0=%lx\n", ioget(3, 0));
    printf("user set 4242 BE 5=%s\n", err(ioset(3, 4242, IOPRIO(2, 5))));
    io_show("after user set");
    printf("unprivileged RT=%s\n", err(ioset(1, 0, IOPRIO(1, 0))));
    printf("unprivileged IDLE=%s\n", err(ioset(1, 0, IOPRIO(3, 0))));
    printf("unprivileged on root parent=%s\n", err(ioset(1, parent, IOPRIO(2, 0))));
}

static void set_caps(unsigned caps) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].effective = d[0].permitted = caps;
    if (syscall(SYS_capset, &h, d)) printf("capset failed\n");
}

static void io_caps(void) {
    set_caps(1u << CAP_SYS_ADMIN | 1u << CAP_SYS_NICE);
    printf("RT with both=%s\n", err(ioset(1, 0, IOPRIO(1, 0))));
    fflush(stdout);
    if (fork() == 0) {
        set_caps(1u << CAP_SYS_NICE);
        printf("RT with SYS_NICE=%s\n", err(ioset(1, 0, IOPRIO(1, 2))));
        fflush(stdout);
        _exit(0);
    }
    wait(NULL);
    set_caps(1u << CAP_SYS_ADMIN);
    printf("RT with SYS_ADMIN=%s\n", err(ioset(1, 0, IOPRIO(1, 1))));
    set_caps(0);
    printf("RT without=%s\n", err(ioset(1, 0, IOPRIO(1, 3))));
    io_show("caps end");
}

static void io_child(void) { io_show("forked"); }

static void ioprio(void) {
    io_show("start");
    static const int vals[] = {IOPRIO(2, 0),       IOPRIO(2, 7),  IOPRIO(2, 8),
                               IOPRIO(2, 0x1ff8),  IOPRIO(3, 0),  IOPRIO(3, 5),
                               IOPRIO(0, 0),       IOPRIO(0, 3),  IOPRIO(0, 8),
                               IOPRIO(1, 7),       IOPRIO(4, 0),  IOPRIO(7, 0),
                               IOPRIO(2, 3) | (1 << 16)};
    for (unsigned i = 0; i < sizeof vals / sizeof *vals; i++) {
        long r = ioset(1, 0, vals[i]);
        long v = ioget(1, 0);
        printf("set %x=%s get=%lx\n", vals[i], err(r), v);
    }
    printf("set BE 4=%s\n", err(ioset(1, 0, IOPRIO(2, 4))));
    in_child(io_child);
    printf("get which 9=%s\n", err(ioget(9, 0)));
    printf("set which 9=%s\n", err(ioset(9, 0, 0)));
    printf("get pid -1=%s\n", err(ioget(1, -1)));
    printf("get dead pid=%s\n", err(ioget(1, dead_pid())));
    printf("set dead pid=%s\n", err(ioset(1, dead_pid(), 0)));
    printf("get own pid=%lx\n", ioget(1, getpid()));
    in_child(io_pgrp);
    in_child(io_user);
    in_child(io_caps);
}

static void *robust_head;

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t thread_tid;

static void *thread_main(void *arg) {
    (void)arg;
    thread_tid = gettid();
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
    return NULL;
}

static void robust(void) {
    void *head = (void *)1;
    size_t len = 0;
    long r = syscall(SYS_get_robust_list, 0, &head, &len);
    robust_head = head;
    printf("get own=%s head set=%d len=%zu\n", err(r), head != NULL, len);
    void *h2 = NULL;
    r = syscall(SYS_get_robust_list, gettid(), &h2, &len);
    printf("get by tid=%s same=%d\n", err(r), h2 == robust_head);
    uint64_t fake[3] = {0, 0, 0};
    fake[0] = (uint64_t)(uintptr_t)fake;
    printf("set fake=%s\n", err(syscall(SYS_set_robust_list, fake, 24)));
    r = syscall(SYS_get_robust_list, 0, &h2, &len);
    printf("get fake=%s is fake=%d\n", err(r), h2 == (void *)fake);
    printf("set restore=%s\n", err(syscall(SYS_set_robust_list, robust_head, 24)));
    printf("get bad head ptr=%s\n", err(syscall(SYS_get_robust_list, 0, (void *)8, &len)));
    printf("get bad len ptr=%s\n", err(syscall(SYS_get_robust_list, 0, &h2, (void *)8)));
    printf("get dead=%s\n", err(syscall(SYS_get_robust_list, dead_pid(), &h2, &len)));
    printf("get -5=%s\n", err(syscall(SYS_get_robust_list, -5, &h2, &len)));

    pthread_mutex_lock(&gate);
    pthread_t th;
    pthread_create(&th, NULL, thread_main, NULL);
    while (!thread_tid) sched_yield();
    h2 = NULL;
    r = syscall(SYS_get_robust_list, thread_tid, &h2, &len);
    printf("get sibling=%s set=%d differs=%d\n", err(r), h2 != NULL, h2 != robust_head);
    pthread_mutex_unlock(&gate);
    pthread_join(th, NULL);

    pid_t me = getpid();
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        void *h = NULL;
        size_t l = 0;
        long rr = syscall(SYS_get_robust_list, me, &h, &l);
        printf("child on parent (root)=%s same=%d len=%zu\n", err(rr), h == robust_head, l);
        drop_to(1000);
        rr = syscall(SYS_get_robust_list, me, &h, &l);
        printf("child on parent (uid 1000)=%s\n", err(rr));
        fflush(stdout);
        _exit(0);
    }
    waitpid(p, NULL, 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    in_child(attr_sizes);
    in_child(attr_agreement);
    in_child(attr_unprivileged);
    in_child(ioprio);
    in_child(robust);
    printf("done\n");
    return 0;
}
