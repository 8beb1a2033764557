/* Readiness within one process: poll, ppoll, select, pselect on pipes and eventfds (poll(2),
 * select(2)), epoll level/edge/oneshot/rdhup (epoll(7)), eventfd counters (eventfd(2)), and
 * 50 ms timeouts. Prints one line per case; the sandbox must print the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static long ms_since(struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void start(struct timespec *t0) { clock_gettime(CLOCK_MONOTONIC, t0); }

int main(void) {
    int p[2];
    struct timespec t0;
    char buf[64];
    long r;
    pipe(p);

    /* poll */
    struct pollfd pf[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    r = poll(pf, 3, 0);
    printf("poll empty=%ld rev=%x %x %x\n", r, pf[0].revents, pf[1].revents, pf[2].revents);
    start(&t0);
    r = poll(pf, 1, 50);
    long el = ms_since(&t0);
    printf("poll timeout=%ld waited>=45:%d\n", r, el >= 45);
    write(p[1], "x", 1);
    r = poll(pf, 2, -1);
    printf("poll data=%ld rev=%x %x\n", r, pf[0].revents, pf[1].revents);
    struct pollfd bad = {999, POLLIN, 0};
    r = poll(&bad, 1, 0);
    printf("poll badfd=%ld rev=%x\n", r, bad.revents);
    struct timespec ts = {0, 50 * 1000 * 1000};
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    r = ppoll(pf, 1, &ts, &mask);
    printf("ppoll=%ld rev=%x\n", r, pf[0].revents);
    r = syscall(SYS_poll, 8L, 1L, 0L);
    printf("poll efault=%s\n", err(r));

    /* select */
    fd_set rs, ws;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_SET(p[0], &rs);
    FD_SET(p[1], &ws);
    struct timeval tv = {0, 0};
    r = select(p[1] + 1, &rs, &ws, NULL, &tv);
    printf("select=%ld r=%d w=%d\n", r, FD_ISSET(p[0], &rs), FD_ISSET(p[1], &ws));
    read(p[0], buf, sizeof buf);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 50000;
    start(&t0);
    r = select(p[0] + 1, &rs, NULL, NULL, &tv);
    el = ms_since(&t0);
    printf("select timeout=%ld r=%d waited>=45:%d left=%ld\n", r, FD_ISSET(p[0], &rs), el >= 45,
           (long)tv.tv_usec);
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000 * 1000;
    start(&t0);
    r = pselect(p[0] + 1, &rs, NULL, NULL, &ts, &mask);
    printf("pselect timeout=%ld waited>=45:%d\n", r, ms_since(&t0) >= 45);
    /* A closed descriptor inside the fd table is EBADF; one past the table's size is ignored
     * (Linux reads the sets only as far as max_fds: 64 in a fresh table, grown to the next
     * power of two above the highest descriptor ever used). The table size this process
     * inherited is the test runner's, so ask a forked child, whose table fork sizes anew. */
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        int closed = dup(0);
        close(closed);
        FD_ZERO(&rs);
        FD_SET(closed, &rs);
        tv.tv_usec = 0;
        printf("select closed fd=%s\n", err(select(closed + 1, &rs, NULL, NULL, &tv)));
        FD_ZERO(&rs);
        FD_SET(100, &rs);
        printf("select fd past table=%s\n", err(select(101, &rs, NULL, NULL, &tv)));
        dup2(0, 100);
        close(100);
        FD_ZERO(&rs);
        FD_SET(100, &rs);
        printf("select fd 100 after growth=%s\n", err(select(101, &rs, NULL, NULL, &tv)));
        FD_ZERO(&rs);
        FD_SET(200, &rs);
        printf("select fd 200 after growth=%s\n", err(select(201, &rs, NULL, NULL, &tv)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(kid, NULL, 0);
    tv.tv_sec = -1;
    r = select(1, NULL, NULL, NULL, &tv);
    printf("select bad timeout=%s\n", err(r));

    /* eventfd */
    int efd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    printf("eventfd=%s cloexec=%d\n", err(efd), fcntl(efd, F_GETFD) & FD_CLOEXEC);
    uint64_t v = 4;
    r = write(efd, &v, 8);
    printf("efd write=%ld\n", r);
    r = read(efd, &v, 8);
    printf("efd read=%ld v=%lu\n", r, (unsigned long)v);
    r = read(efd, &v, 8);
    printf("efd empty=%s\n", err(r));
    r = read(efd, &v, 4);
    printf("efd short=%s\n", err(r));
    v = UINT64_MAX;
    r = write(efd, &v, 8);
    printf("efd write max=%s\n", err(r));
    struct pollfd ep = {efd, POLLIN | POLLOUT, 0};
    r = poll(&ep, 1, 0);
    printf("efd poll=%ld rev=%x\n", r, ep.revents);
    int sfd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    read(sfd, &v, 8);
    printf("sem read v=%lu\n", (unsigned long)v);
    read(sfd, &v, 8);
    r = read(sfd, &v, 8);
    printf("sem third=%s\n", err(r));
    r = eventfd(0, 0x40000000);
    printf("eventfd bad flags=%s\n", err(r));

    /* epoll */
    r = epoll_create(0);
    printf("epoll_create(0)=%s\n", err(r));
    r = epoll_create1(1);
    printf("epoll_create1(1)=%s\n", err(r));
    int e = epoll_create1(EPOLL_CLOEXEC);
    printf("epoll=%s cloexec=%d\n", err(e), fcntl(e, F_GETFD) & FD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 11}, out[4];
    r = epoll_ctl(e, EPOLL_CTL_ADD, p[0], &ev);
    printf("ctl add=%s\n", err(r));
    r = epoll_ctl(e, EPOLL_CTL_ADD, p[0], &ev);
    printf("ctl add again=%s\n", err(r));
    r = epoll_ctl(e, EPOLL_CTL_ADD, e, &ev);
    printf("ctl self=%s\n", err(r));
    int reg = open("/etc/passwd", O_RDONLY);
    r = epoll_ctl(e, EPOLL_CTL_ADD, reg, &ev);
    printf("ctl regular file=%s\n", err(r));
    r = epoll_ctl(e, EPOLL_CTL_MOD, efd, &ev);
    printf("ctl mod missing=%s\n", err(r));
    r = epoll_ctl(e, EPOLL_CTL_DEL, 999, NULL);
    printf("ctl del badfd=%s\n", err(r));
    r = epoll_ctl(p[0], EPOLL_CTL_ADD, efd, &ev);
    printf("ctl on non-epoll=%s\n", err(r));
    start(&t0);
    r = epoll_wait(e, out, 4, 50);
    printf("wait timeout=%ld waited>=45:%d\n", r, ms_since(&t0) >= 45);
    r = epoll_wait(e, out, 0, 0);
    printf("wait maxevents 0=%s\n", err(r));
    write(p[1], "ab", 2);
    for (int i = 0; i < 2; i++) {
        r = epoll_wait(e, out, 4, 0);
        printf("level wait=%ld ev=%x data=%lu\n", r, out[0].events, (unsigned long)out[0].data.u64);
    }
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 12;
    r = epoll_ctl(e, EPOLL_CTL_MOD, p[0], &ev);
    printf("ctl mod=%s\n", err(r));
    r = epoll_wait(e, out, 4, 0);
    printf("edge wait1=%ld data=%lu\n", r, (unsigned long)out[0].data.u64);
    r = epoll_wait(e, out, 4, 0);
    printf("edge wait2=%ld\n", r);
    write(p[1], "c", 1);
    r = epoll_wait(e, out, 4, 0);
    printf("edge wait3=%ld\n", r);
    read(p[0], buf, sizeof buf);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 13;
    epoll_ctl(e, EPOLL_CTL_MOD, p[0], &ev);
    write(p[1], "d", 1);
    r = epoll_wait(e, out, 4, 0);
    printf("oneshot wait1=%ld\n", r);
    r = epoll_wait(e, out, 4, 0);
    printf("oneshot wait2=%ld\n", r);
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = 14;
    epoll_ctl(e, EPOLL_CTL_MOD, p[0], &ev);
    ev.events = EPOLLIN;
    ev.data.u64 = 15;
    r = epoll_ctl(e, EPOLL_CTL_ADD, efd, &ev);
    printf("ctl add efd=%s\n", err(r));
    v = 1;
    write(efd, &v, 8);
    r = epoll_wait(e, out, 4, 0);
    printf("two ready=%ld\n", r);
    r = epoll_wait(e, out, 1, 0);
    printf("maxevents 1=%ld\n", r);
    read(p[0], buf, sizeof buf);
    read(efd, &v, 8);
    close(p[1]);
    ev.events = 0;
    r = epoll_pwait(e, out, 4, 0, &mask);
    printf("rdhup=%ld ev=%x data=%lu\n", r, out[0].events, (unsigned long)out[0].data.u64);
    r = epoll_ctl(e, EPOLL_CTL_DEL, p[0], NULL);
    printf("ctl del=%s\n", err(r));
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000 * 1000;
    start(&t0);
    r = epoll_pwait2(e, out, 4, &ts, NULL);
    printf("pwait2 timeout=%ld waited>=45:%d\n", r, ms_since(&t0) >= 45);
    struct epoll_event ex = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    int q[2];
    pipe(q);
    r = epoll_ctl(e, EPOLL_CTL_ADD, q[0], &ex);
    printf("exclusive add=%s\n", err(r));
    r = epoll_ctl(e, EPOLL_CTL_MOD, q[0], &ex);
    printf("exclusive mod=%s\n", err(r));
    struct pollfd epf = {e, POLLIN, 0};
    write(q[1], "z", 1);
    r = poll(&epf, 1, 0);
    printf("poll on epoll=%ld rev=%x\n", r, epf.revents);
    return 0;
}
