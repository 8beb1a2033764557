// --network=host blocking (tests/tests/hostnet.rs): a blocked receive on a host socket is
// interrupted by a signal (EINTR without SA_RESTART; restarted with it, unless SO_RCVTIMEO is
// set), SO_RCVTIMEO ends a wait with EAGAIN, a non-blocking connect completes through poll and
// SO_ERROR, epoll sees a pending connection, and reads and writes move bytes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int feeder = -1;
static struct sockaddr_in target;

static void on_alarm(int sig) {
    (void)sig;
    if (feeder >= 0) sendto(feeder, "late", 4, 0, (struct sockaddr *)&target, sizeof target);
}

static void arm(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    // Repeating: a signal that lands before the call blocks is followed by one that does not.
    struct itimerval it = {{0, 50000}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/// Stops the timer and drops any datagram the handler sent meanwhile.
static void disarm(int fd) {
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    char b[16];
    while (recv(fd, b, sizeof b, MSG_DONTWAIT) >= 0) {
    }
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int udp_bound(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    return fd;
}

static void report(const char *what, ssize_t r) {
    if (r < 0)
        printf("%s: %s\n", what, strerror(errno));
    else
        printf("%s: %zd\n", what, r);
}

static void set_rcvtimeo(int fd, long usec) {
    struct timeval tv = {usec / 1000000, usec % 1000000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char buf[16];
    int u = udp_bound();
    socklen_t len = sizeof target;
    getsockname(u, (struct sockaddr *)&target, &len);

    arm(0);
    report("recv, signal without SA_RESTART", recv(u, buf, sizeof buf, 0));
    disarm(u);

    feeder = socket(AF_INET, SOCK_DGRAM, 0);
    arm(1);
    report("recv, signal with SA_RESTART (handler sends)", recv(u, buf, sizeof buf, 0));
    disarm(u);
    close(feeder);
    feeder = -1;

    set_rcvtimeo(u, 30000000);
    arm(1);
    report("recv with SO_RCVTIMEO, signal with SA_RESTART", recv(u, buf, sizeof buf, 0));
    disarm(u);

    set_rcvtimeo(u, 100000);
    report("recv, SO_RCVTIMEO passes", recv(u, buf, sizeof buf, 0));
    struct timeval tv;
    len = sizeof tv;
    getsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
    printf("SO_RCVTIMEO reads back: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);

    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = loopback(0);
    bind(l, (struct sockaddr *)&la, sizeof la);
    listen(l, 4);
    len = sizeof la;
    getsockname(l, (struct sockaddr *)&la, &len);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    struct epoll_event got;
    report("epoll_wait before a connection", epoll_wait(ep, &got, 1, 0));

    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c, (struct sockaddr *)&la, sizeof la);
    printf("non-blocking connect: %s\n",
           r == 0 || errno == EINPROGRESS ? "0 or EINPROGRESS" : strerror(errno));
    struct pollfd p = {c, POLLOUT, 0};
    int pr = poll(&p, 1, 10000);
    printf("poll POLLOUT: %d revents=%#x\n", pr, p.revents);
    int err = -1;
    len = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("SO_ERROR: %d\n", err);
    int n = epoll_wait(ep, &got, 1, 10000);
    printf("epoll_wait: %d data=%u in=%d\n", n, got.data.u32, !!(got.events & EPOLLIN));
    int a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    printf("accept4: %s\n", a >= 0 ? "ok" : strerror(errno));
    fcntl(l, F_SETFL, O_NONBLOCK);
    report("accept4 again (non-blocking, nothing pending)", accept4(l, NULL, NULL, 0));
    report("read with nothing there", read(a, buf, sizeof buf));
    report("write", write(c, "abc", 3));
    p.fd = a;
    p.events = POLLIN;
    pr = poll(&p, 1, 10000);
    printf("poll POLLIN: %d revents=%#x\n", pr, p.revents);
    int q = -1;
    int ir = ioctl(a, FIONREAD, &q);
    printf("FIONREAD: %d %d\n", ir, q);
    report("read", read(a, buf, sizeof buf));
    close(c);
    report("read at EOF", read(a, buf, sizeof buf));
    printf("done\n");
    return 0;
}
