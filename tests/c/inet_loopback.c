// Loopback TCP/UDP (ip(7), tcp(7), udp(7)): an echo server and client in two processes on
// 127.0.0.1 with an ephemeral port, 1 MiB checksummed, half-close EOF, ECONNREFUSED, a
// non-blocking connect, socket options, v4 on a v6 wildcard, UDP message boundaries.
// Prints only results that are the same natively and in the sandbox (never port numbers).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536
#define TOTAL (1 << 20)

static void die(const char *what) {
    printf("FAIL %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

// The parent's lines, printed after the child has finished (no interleaving).
static char plog[4096];
#define PLOG(...) snprintf(plog + strlen(plog), sizeof plog - strlen(plog), __VA_ARGS__)

static const char *err(int r) { return r == 0 ? "ok" : strerror(errno); }

static struct sockaddr_in lo4(uint16_t port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static uint16_t port_of(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) die("getsockname");
    return ntohs(a.sin_port);
}

static int listener(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = lo4(0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(fd, 8) < 0) die("listen");
    return fd;
}

static int getint(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) < 0) return -errno;
    return v;
}

static void tcp_echo(void) {
    int l = listener();
    uint16_t port = port_of(l);
    printf("ephemeral in range=%d\n", port >= 32768 && port <= 60999);
    printf("acceptconn=%d\n", getint(l, SOL_SOCKET, SO_ACCEPTCONN));
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(l);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = lo4(port);
        if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
        static unsigned char out[CHUNK], in[CHUNK];
        uint32_t sent_sum = 0, got_sum = 0;
        for (int off = 0; off < TOTAL; off += CHUNK) {
            for (int i = 0; i < CHUNK; i++) {
                out[i] = (unsigned char)((off + i) * 31 + 7);
                sent_sum = sent_sum * 33 + out[i];
            }
            if (write(c, out, CHUNK) != CHUNK) die("client write");
            ssize_t n = recv(c, in, CHUNK, MSG_WAITALL);
            if (n != CHUNK) die("client recv");
            for (int i = 0; i < CHUNK; i++) got_sum = got_sum * 33 + in[i];
        }
        printf("client sums equal=%d\n", sent_sum == got_sum);
        if (shutdown(c, SHUT_WR) < 0) die("shutdown");
        char tail[16];
        ssize_t n = read(c, tail, sizeof tail);
        printf("client eof read=%zd\n", n);
        fflush(stdout);
        _exit(0);
    }
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &plen);
    if (s < 0) die("accept");
    char ip[32];
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    PLOG("accepted family=%d len=%u ip=%s\n", peer.sin_family, plen, ip);
    struct sockaddr_in me;
    socklen_t mlen = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &mlen);
    PLOG("accepted local port same=%d\n", ntohs(me.sin_port) == port);
    static unsigned char buf[CHUNK];
    long total = 0;
    for (;;) {
        ssize_t n = read(s, buf, sizeof buf);
        if (n < 0) die("server read");
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(s, buf + off, n - off);
            if (w <= 0) die("server write");
            off += w;
        }
        total += n;
    }
    PLOG("server echoed=%ld then eof\n", total);
    close(s);
    int st;
    waitpid(pid, &st, 0);
    printf("%s", plog);
    plog[0] = 0;
    printf("child status=%d\n", WEXITSTATUS(st));
    close(l);
}

static void refused(void) {
    int l = listener();
    uint16_t port = port_of(l);
    close(l);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(port);
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    printf("connect closed port: %s\n", err(r));
    close(c);
}

static void nonblocking_connect(void) {
    int l = listener();
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo4(port_of(l));
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    printf("nb connect: %s\n", r == 0 || errno == EINPROGRESS ? "ok-or-inprogress" : strerror(errno));
    struct pollfd p = {.fd = c, .events = POLLOUT};
    int n = poll(&p, 1, 2000);
    printf("poll=%d pollout=%d\n", n, (p.revents & POLLOUT) != 0);
    printf("so_error=%d\n", getint(c, SOL_SOCKET, SO_ERROR));
    struct pollfd pl = {.fd = l, .events = POLLIN};
    printf("listener readable=%d\n", poll(&pl, 1, 2000));
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    printf("accept4 ok=%d cloexec=%d\n", s >= 0, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
    char b[8];
    r = recv(s, b, sizeof b, MSG_DONTWAIT);
    printf("empty recv: %s\n", r < 0 ? strerror(errno) : "data");
    send(c, "peekaboo", 8, MSG_NOSIGNAL);
    struct pollfd ps = {.fd = s, .events = POLLIN};
    poll(&ps, 1, 2000);
    r = recv(s, b, 4, MSG_PEEK);
    printf("peek=%d '%.4s'\n", r, b);
    r = recv(s, b, 8, MSG_WAITALL);
    printf("read=%d '%.8s'\n", r, b);
    close(s);
    poll(&(struct pollfd){.fd = c, .events = POLLIN}, 1, 2000);
    r = read(c, b, sizeof b);
    printf("after peer close read=%d\n", r);
    close(c);
    close(l);
}

static void options(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    printf("type=%d domain=%d proto=%d\n", getint(s, SOL_SOCKET, SO_TYPE) == SOCK_STREAM,
           getint(s, SOL_SOCKET, SO_DOMAIN) == AF_INET, getint(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    printf("reuseaddr=%d keepalive=%d nodelay=%d acceptconn=%d\n", getint(s, SOL_SOCKET, SO_REUSEADDR),
           getint(s, SOL_SOCKET, SO_KEEPALIVE), getint(s, IPPROTO_TCP, TCP_NODELAY),
           getint(s, SOL_SOCKET, SO_ACCEPTCONN));
    int sz = 65536;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    printf("rcvbuf doubled=%d\n", getint(s, SOL_SOCKET, SO_RCVBUF) == 2 * sz);
    struct linger lg = {1, 5};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    struct linger lg2;
    socklen_t len = sizeof lg2;
    getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &len);
    printf("linger=%d,%d\n", lg2.l_onoff, lg2.l_linger);
    struct sockaddr_in far = lo4(0);
    far.sin_addr.s_addr = inet_addr("192.0.2.1");
    printf("bind 192.0.2.1: %s\n", err(bind(s, (struct sockaddr *)&far, sizeof far)));
    int l = listener();
    struct sockaddr_in a = lo4(port_of(l));
    printf("bind in use: %s\n", err(bind(s, (struct sockaddr *)&a, sizeof a)));
    printf("getpeername unconnected: %s\n", err(getpeername(s, (struct sockaddr *)&a, &len)));
    close(l);
    close(s);
}

static void v6_wildcard(void) {
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_any;
    if (bind(l, (struct sockaddr *)&a6, sizeof a6) < 0) die("bind6");
    listen(l, 1);
    socklen_t len = sizeof a6;
    getsockname(l, (struct sockaddr *)&a6, &len);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(ntohs(a6.sin6_port));
    printf("v4 to v6 any: %s\n", err(connect(c, (struct sockaddr *)&a, sizeof a)));
    struct sockaddr_in6 peer;
    len = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &len);
    char ip[64];
    inet_ntop(AF_INET6, &peer.sin6_addr, ip, sizeof ip);
    printf("v6 peer len=%u ip=%s\n", len, ip);
    int c6 = socket(AF_INET6, SOCK_STREAM, 0);
    a6.sin6_addr = in6addr_loopback;
    printf("v6 to ::1: %s\n", err(connect(c6, (struct sockaddr *)&a6, sizeof a6)));
    int s6 = accept(l, (struct sockaddr *)&peer, &len);
    inet_ntop(AF_INET6, &peer.sin6_addr, ip, sizeof ip);
    printf("v6 peer ip=%s\n", ip);
    write(c6, "x", 1);
    char b;
    printf("v6 read=%zd\n", read(s6, &b, 1));
    close(s6);
    close(c6);
    close(s);
    close(c);
    close(l);
}

static void udp(void) {
    int srv = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = lo4(0);
    if (bind(srv, (struct sockaddr *)&a, sizeof a) < 0) die("udp bind");
    uint16_t port = port_of(srv);
    printf("udp proto=%d\n", getint(srv, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in to = lo4(port);
        const char *msgs[] = {"a", "bb", "ccc", "dddddddddd"};
        for (int i = 0; i < 4; i++) {
            sendto(c, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&to, sizeof to);
            char b[64];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(c, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
            printf("client udp echo %zd '%.*s' from server=%d\n", n, (int)n, b, ntohs(from.sin_port) == port);
        }
        fflush(stdout);
        _exit(0);
    }
    for (int i = 0; i < 4; i++) {
        char b[64];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(srv, b, i == 3 ? 4 : sizeof b, i == 3 ? MSG_TRUNC : 0, (struct sockaddr *)&from, &fl);
        if (n < 0) die("udp recvfrom");
        size_t back = i == 3 ? 4 : (size_t)n;
        sendto(srv, b, back, 0, (struct sockaddr *)&from, fl);
    }
    int st;
    waitpid(pid, &st, 0);
    // Boundaries in one process: two datagrams, a peek, a truncated recvmsg.
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = lo4(port);
    connect(c, (struct sockaddr *)&to, sizeof to);
    send(c, "hello", 5, 0);
    send(c, "world!", 6, 0);
    char b[16];
    printf("udp peek=%zd\n", recv(srv, b, sizeof b, MSG_PEEK));
    struct iovec iov = {b, 3};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(srv, &m, 0);
    printf("udp recvmsg=%zd trunc=%d '%.3s'\n", n, (m.msg_flags & MSG_TRUNC) != 0, b);
    n = recv(srv, b, sizeof b, 0);
    printf("udp next=%zd '%.*s'\n", n, (int)n, b);
    printf("udp empty: %s\n", recv(srv, b, sizeof b, MSG_DONTWAIT) < 0 ? strerror(errno) : "data");
    close(c);
    close(srv);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    tcp_echo();
    refused();
    nonblocking_connect();
    options();
    v6_wildcard();
    udp();
    printf("done\n");
    return 0;
}
