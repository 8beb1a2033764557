/* timerfd and signalfd semantics (timerfd_create(2), signalfd(2)): prints results so native and
 * sandboxed runs can be compared. Argument: "timerfd" or "signalfd". */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const char *err(int r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    default: return strerror(errno);
    }
}

static void ms_sleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int timerfd_tests(void) {
    printf("create bad clock=%s\n", err(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0)));
    printf("create bad flags=%s\n", err(timerfd_create(CLOCK_MONOTONIC, 0x4)));
    int rt = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
    int bt = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
    printf("create realtime=%s boottime=%s\n", err(rt), err(bt));
    close(rt);
    close(bt);

    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 0}, {0, 50 * 1000000L}}, old;
    printf("settime one-shot=%s\n", err(timerfd_settime(fd, 0, &its, NULL)));
    uint64_t n = 0;
    ssize_t r = read(fd, &n, sizeof n);
    printf("one-shot read=%zd count=%llu\n", r, (unsigned long long)n);
    char small[4];
    printf("short read=%s\n", err((int)read(fd, small, sizeof small)));

    its.it_interval.tv_nsec = 20 * 1000000L;
    its.it_value.tv_nsec = 20 * 1000000L;
    timerfd_settime(fd, 0, &its, NULL);
    ms_sleep(110);
    r = read(fd, &n, sizeof n);
    printf("interval read=%zd count>=4:%d\n", r, n >= 4);
    struct itimerspec cur;
    timerfd_gettime(fd, &cur);
    printf("gettime armed interval=%ldms value>0:%d\n", cur.it_interval.tv_nsec / 1000000L,
           cur.it_value.tv_sec > 0 || cur.it_value.tv_nsec > 0);
    struct itimerspec zero = {{0, 0}, {0, 0}};
    timerfd_settime(fd, 0, &zero, &old);
    printf("disarm old interval=%ldms\n", old.it_interval.tv_nsec / 1000000L);
    timerfd_gettime(fd, &cur);
    printf("gettime disarmed=%ld.%ld/%ld.%ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
           (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

    struct itimerspec bad = {{0, 0}, {0, 1000000000L}};
    printf("settime bad nsec=%s\n", err(timerfd_settime(fd, 0, &bad, NULL)));
    printf("settime bad flags=%s\n", err(timerfd_settime(fd, 0x10, &its, NULL)));
    int p[2];
    pipe(p);
    printf("settime not timerfd=%s\n", err(timerfd_settime(p[0], 0, &its, NULL)));
    printf("gettime not timerfd=%s\n", err(timerfd_gettime(p[0], &cur)));
    printf("gettime bad fd=%s\n", err(timerfd_gettime(999, &cur)));
    close(p[0]);
    close(p[1]);
    close(fd);

    int nb = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    printf("nonblock unarmed read=%s\n", err((int)read(nb, &n, sizeof n)));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec abs = {{0, 0}, now};
    printf("settime abstime past=%s\n", err(timerfd_settime(nb, TFD_TIMER_ABSTIME, &abs, NULL)));
    r = read(nb, &n, sizeof n);
    printf("abstime read=%zd count=%llu\n", r, (unsigned long long)n);
    printf("nonblock after read=%s\n", err((int)read(nb, &n, sizeof n)));

    its.it_interval.tv_nsec = 0;
    its.it_value.tv_nsec = 30 * 1000000L;
    timerfd_settime(nb, 0, &its, NULL);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, nb, &ev);
    printf("epoll before=%d\n", epoll_wait(ep, &got, 1, 0));
    int w = epoll_wait(ep, &got, 1, 2000);
    printf("epoll wait=%d data=%llu\n", w, (unsigned long long)got.data.u64);
    its.it_value.tv_nsec = 20 * 1000000L;
    timerfd_settime(nb, 0, &its, NULL);
    struct pollfd pfd = {nb, POLLIN, 0};
    w = poll(&pfd, 1, 2000);
    printf("poll wait=%d revents=%#x\n", w, pfd.revents);
    close(ep);
    close(nb);
    return 0;
}

static int signalfd_tests(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    printf("bad flags=%s\n", err(signalfd(-1, &set, 0x4)));
    printf("bad sizemask=%s\n", err((int)syscall(SYS_signalfd4, -1, &set, 4, 0)));
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    printf("create=%s\n", err(fd));
    struct signalfd_siginfo si;
    printf("empty read=%s\n", err((int)read(fd, &si, sizeof si)));
    char small[64];
    printf("short read=%s\n", err((int)read(fd, small, sizeof small)));
    struct pollfd pfd = {fd, POLLIN, 0};
    printf("poll empty=%d\n", poll(&pfd, 1, 0));

    raise(SIGUSR1);
    pfd.revents = 0;
    int pr = poll(&pfd, 1, 0);
    printf("poll pending=%d revents=%#x\n", pr, pfd.revents);
    memset(&si, 0, sizeof si);
    ssize_t r = read(fd, &si, sizeof si);
    printf("read=%zd signo=%u code=%d pid_ok=%d uid_ok=%d\n", r, si.ssi_signo, si.ssi_code,
           si.ssi_pid == (uint32_t)getpid(), si.ssi_uid == getuid());
    printf("after read=%s\n", err((int)read(fd, &si, sizeof si)));

    kill(getpid(), SIGUSR1);
    memset(&si, 0, sizeof si);
    r = read(fd, &si, sizeof si);
    printf("kill read=%zd signo=%u code=%d pid_ok=%d\n", r, si.ssi_signo, si.ssi_code,
           si.ssi_pid == (uint32_t)getpid());

    /* Updating the mask through the existing fd: SIGUSR2 now, SIGKILL silently dropped. */
    sigset_t set2;
    sigemptyset(&set2);
    sigaddset(&set2, SIGUSR2);
    sigaddset(&set2, SIGKILL);
    sigprocmask(SIG_BLOCK, &set2, NULL);
    printf("update=%d\n", signalfd(fd, &set2, 0) == fd);
    raise(SIGUSR1);
    printf("usr1 not in mask=%s\n", err((int)read(fd, &si, sizeof si)));
    raise(SIGUSR2);
    struct signalfd_siginfo two[2];
    r = read(fd, two, sizeof two);
    printf("usr2 read=%zd signo=%u\n", r, two[0].ssi_signo);
    int p[2];
    pipe(p);
    printf("update non-signalfd=%s\n", err(signalfd(p[0], &set, 0)));
    close(p[0]);
    close(p[1]);
    sigset_t pend;
    sigpending(&pend);
    printf("usr1 still pending=%d\n", sigismember(&pend, SIGUSR1));
    close(fd);

    /* A blocking fd with the pending SIGUSR1. */
    int bfd = signalfd(-1, &set, 0);
    r = read(bfd, &si, sizeof si);
    printf("blocking read=%zd signo=%u\n", r, si.ssi_signo);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 3}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &ev);
    printf("epoll empty=%d\n", epoll_wait(ep, &got, 1, 0));
    raise(SIGUSR1);
    printf("epoll pending=%d\n", epoll_wait(ep, &got, 1, 1000));
    close(ep);
    close(bfd);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "signalfd") == 0) return signalfd_tests();
    return timerfd_tests();
}
