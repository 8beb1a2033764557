// POSIX message queues (mq_overview(7)): open/create/errors, priority order, non-blocking and
// timed operations, mq_notify, mq_getsetattr, poll, read(2) of the descriptor, a blocked receive
// woken by another process. Names are derived from the pid; everything made is unlinked.
// With the argument "fs": the queue shows in /dev/mqueue and in a fresh `mount -t mqueue`
// (run only in the sandbox: the host may have no /dev/mqueue).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EMSGSIZE: return "EMSGSIZE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EBUSY: return "EBUSY";
    case EINTR: return "EINTR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return "E?";
    }
}

static char names[4][64];

static const char *nm(int i) {
    return names[i];
}

static void report(const char *what, int r) {
    printf("%s=%s\n", what, r < 0 ? ename(errno) : "OK");
}

static volatile sig_atomic_t got_sig, got_code, got_val, got_pid_ok;

static void on_usr1(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    got_sig = sig;
    got_code = si->si_code;
    got_val = si->si_value.sival_int;
    got_pid_ok = si->si_pid == getpid();
}

static struct timespec in_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

static int fs_mode(void) {
    struct mq_attr at = {.mq_maxmsg = 2, .mq_msgsize = 8};
    mqd_t q = mq_open(nm(0), O_CREAT | O_RDWR, 0640, &at);
    report("open", q);
    const char *base = nm(0) + 1;
    int seen = 0;
    DIR *d = opendir("/dev/mqueue");
    struct dirent *e;
    while (d && (e = readdir(d)))
        seen |= strcmp(e->d_name, base) == 0;
    if (d)
        closedir(d);
    printf("listed in /dev/mqueue=%d\n", seen);
    char path[300];
    snprintf(path, sizeof path, "/dev/mqueue/%s", base);
    struct stat st;
    int sr = stat(path, &st);
    printf("stat=%d mode=%o\n", sr, st.st_mode);
    mq_send(q, "abc", 3, 0);
    int fd = open(path, O_RDONLY);
    char buf[128] = {0};
    printf("read=%zd %s", read(fd, buf, sizeof buf - 1), buf);
    close(fd);
    mkdir("/tmp/mq", 0755);
    report("mount", mount("none", "/tmp/mq", "mqueue", 0, NULL));
    snprintf(path, sizeof path, "/tmp/mq/%s", base);
    printf("in new mount=%d\n", access(path, F_OK) == 0);
    report("unlink via fs", unlink(path));
    printf("after unlink open=%s\n", mq_open(nm(0), O_RDWR) < 0 ? ename(errno) : "OK");
    umount("/tmp/mq");
    mq_close(q);
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 0; i < 4; i++)
        snprintf(names[i], sizeof names[i], "/mqtest-%d-%d", (int)getpid(), i);
    if (argc > 1 && strcmp(argv[1], "fs") == 0)
        return fs_mode();

    // Errors of mq_open.
    printf("missing=%s\n", mq_open(nm(0), O_RDWR) < 0 ? ename(errno) : "OK");
    printf("two slashes=%s\n", mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL) < 0 ? ename(errno) : "OK");
    printf("no slash=%s\n", mq_open("abc", O_RDWR | O_CREAT, 0600, NULL) < 0 ? ename(errno) : "OK");
    struct mq_attr bad = {.mq_maxmsg = 0, .mq_msgsize = 8};
    printf("maxmsg 0=%s\n", mq_open(nm(0), O_RDWR | O_CREAT, 0600, &bad) < 0 ? ename(errno) : "OK");
    bad.mq_maxmsg = 4;
    bad.mq_msgsize = -1;
    printf("msgsize -1=%s\n", mq_open(nm(0), O_RDWR | O_CREAT, 0600, &bad) < 0 ? ename(errno) : "OK");
    bad.mq_maxmsg = 1000000;
    bad.mq_msgsize = 8;
    printf("maxmsg huge=%s\n", mq_open(nm(0), O_RDWR | O_CREAT, 0600, &bad) < 0 ? ename(errno) : "OK");

    // Defaults.
    mqd_t d = mq_open(nm(1), O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
    report("create default", d);
    struct mq_attr a;
    mq_getattr(d, &a);
    printf("default maxmsg=%ld msgsize=%ld curmsgs=%ld flags=%ld\n", a.mq_maxmsg, a.mq_msgsize,
           a.mq_curmsgs, a.mq_flags);
    printf("excl again=%s\n", mq_open(nm(1), O_RDWR | O_CREAT | O_EXCL, 0600, NULL) < 0 ? ename(errno) : "OK");
    struct stat st;
    fstat(d, &st);
    printf("fstat reg=%d perm=%o\n", S_ISREG(st.st_mode), st.st_mode & 0777);
    printf("cloexec=%d\n", (fcntl(d, F_GETFD) & FD_CLOEXEC) != 0);
    mq_close(d);
    report("unlink", mq_unlink(nm(1)));
    printf("unlink again=%s\n", mq_unlink(nm(1)) < 0 ? ename(errno) : "OK");

    // Priority order, FIFO within a priority, non-blocking and size errors.
    struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 16};
    mqd_t q = mq_open(nm(0), O_RDWR | O_CREAT | O_NONBLOCK, 0600, &at);
    report("create", q);
    const char *msgs[] = {"a1", "b5", "c1", "d5"};
    unsigned prios[] = {1, 5, 1, 5};
    for (int i = 0; i < 4; i++)
        mq_send(q, msgs[i], strlen(msgs[i]), prios[i]);
    printf("full send=%s\n", mq_send(q, "x", 1, 0) < 0 ? ename(errno) : "OK");
    printf("prio max=%s\n", mq_send(q, "x", 1, MQ_PRIO_MAX) < 0 ? ename(errno) : "OK");
    printf("too big=%s\n", mq_send(q, "0123456789abcdefg", 17, 0) < 0 ? ename(errno) : "OK");
    struct pollfd pfd = {.fd = q, .events = POLLIN | POLLOUT};
    poll(&pfd, 1, 0);
    printf("poll full in=%d out=%d\n", !!(pfd.revents & POLLIN), !!(pfd.revents & POLLOUT));
    char buf[64];
    printf("small buf=%s\n", mq_receive(q, buf, 8, NULL) < 0 ? ename(errno) : "OK");
    for (int i = 0; i < 4; i++) {
        unsigned p;
        ssize_t n = mq_receive(q, buf, sizeof buf, &p);
        printf("recv %.*s prio=%u\n", (int)n, buf, p);
    }
    printf("empty recv=%s\n", mq_receive(q, buf, sizeof buf, NULL) < 0 ? ename(errno) : "OK");
    pfd.revents = 0;
    poll(&pfd, 1, 0);
    printf("poll empty in=%d out=%d\n", !!(pfd.revents & POLLIN), !!(pfd.revents & POLLOUT));

    // mq_getsetattr: O_NONBLOCK only.
    struct mq_attr na = {.mq_flags = 0}, old;
    mq_setattr(q, &na, &old);
    printf("old flags nonblock=%d\n", old.mq_flags == O_NONBLOCK);
    na.mq_flags = O_APPEND;
    printf("setattr bad=%s\n", mq_setattr(q, &na, NULL) < 0 ? ename(errno) : "OK");
    struct timespec soon = in_ms(30);
    printf("timed recv=%s\n", mq_timedreceive(q, buf, sizeof buf, NULL, &soon) < 0 ? ename(errno) : "OK");
    struct timespec badts = {.tv_sec = 0, .tv_nsec = 2000000000L};
    printf("bad timeout=%s\n", mq_timedreceive(q, buf, sizeof buf, NULL, &badts) < 0 ? ename(errno) : "OK");
    struct timespec past = {.tv_sec = 1, .tv_nsec = 0};
    printf("past timeout=%s\n", mq_timedreceive(q, buf, sizeof buf, NULL, &past) < 0 ? ename(errno) : "OK");

    // Access modes.
    mqd_t ro = mq_open(nm(0), O_RDONLY);
    printf("send on rdonly=%s\n", mq_send(ro, "x", 1, 0) < 0 ? ename(errno) : "OK");
    mqd_t wo = mq_open(nm(0), O_WRONLY);
    printf("recv on wronly=%s\n", mq_receive(wo, buf, sizeof buf, NULL) < 0 ? ename(errno) : "OK");
    printf("bad accmode=%s\n", mq_open(nm(0), O_RDWR | O_WRONLY) < 0 ? ename(errno) : "OK");
    printf("not a queue=%s\n", mq_send(1, "x", 1, 0) < 0 ? ename(errno) : "OK");
    mq_close(ro);
    mq_close(wo);

    // EACCES by mode, as an unprivileged user.
    mqd_t locked = mq_open(nm(2), O_RDWR | O_CREAT, 0400, NULL);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(9);
        printf("child rdonly on 0400=%s\n", mq_open(nm(2), O_RDONLY) < 0 ? ename(errno) : "OK");
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(c, &status, 0);
    printf("child status=%d\n", WEXITSTATUS(status));
    mq_close(locked);
    mq_unlink(nm(2));

    // mq_notify with a signal: fired by a message to an empty queue, once.
    struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    sev.sigev_value.sival_int = 77;
    report("notify", mq_notify(q, &sev));
    printf("notify again=%s\n", mq_notify(q, &sev) < 0 ? ename(errno) : "OK");
    mq_send(q, "n", 1, 0);
    printf("signal=%d code_mesgq=%d value=%d pid_ok=%d\n", got_sig == SIGUSR1, got_code == SI_MESGQ,
           got_val, got_pid_ok);
    report("notify after firing", mq_notify(q, &sev));
    report("notify remove", mq_notify(q, NULL));
    report("notify none", mq_notify(q, &(struct sigevent){.sigev_notify = SIGEV_NONE}));
    report("notify remove", mq_notify(q, NULL));
    sev.sigev_notify = 99;
    printf("notify bad=%s\n", mq_notify(q, &sev) < 0 ? ename(errno) : "OK");
    mq_receive(q, buf, sizeof buf, NULL);

    // read(2) of the descriptor.
    mq_send(q, "hello", 5, 0);
    char line[128] = {0};
    ssize_t n = pread(q, line, sizeof line - 1, 0);
    printf("qsize line (%zd): %s", n, line);
    mq_receive(q, buf, sizeof buf, NULL);

    // A receive blocked in this process, woken by a child's send.
    fflush(stdout);
    c = fork();
    if (c == 0) {
        mqd_t w = mq_open(nm(0), O_WRONLY);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        mq_send(w, "late", 4, 9);
        _exit(0);
    }
    struct pollfd wake = {.fd = q, .events = POLLIN};
    int pr = poll(&wake, 1, 10000);
    printf("poll woken=%d in=%d\n", pr, !!(wake.revents & POLLIN));
    unsigned p;
    n = mq_receive(q, buf, sizeof buf, &p);
    printf("blocked recv %.*s prio=%u\n", (int)n, buf, p);
    waitpid(c, &status, 0);

    // A blocked receive interrupted by a signal handler without SA_RESTART.
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    printf("interrupted recv=%s\n", mq_receive(q, buf, sizeof buf, NULL) < 0 ? ename(errno) : "OK");

    mq_close(q);
    report("unlink", mq_unlink(nm(0)));
    return 0;
}
