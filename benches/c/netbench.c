/* Loopback network micro-benchmarks for the side-by-side runner: `netbench MODE N` runs N
 * iterations of one operation between two threads of one process and exits 0 (N = 0 measures
 * start-up and setup alone). Everything goes over 127.0.0.1 (or a unix socketpair).
 *   tcpbulk   stream N MiB from a client to a server over one TCP connection (64 KiB writes)
 *   tcprr     1-byte TCP ping-pong round trip (TCP_NODELAY) over one connection
 *   connect   connect + accept + server close + client sees EOF + close, one per iteration
 *   udp       1-byte UDP ping-pong round trip between two bound sockets
 *   unix      1-byte unix stream ping-pong round trip over a socketpair
 * On failure it prints what failed and exits 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long rounds;
static int peer_fd;
static int peer_rc;
static struct sockaddr_in peer_addr;
static char buf[65536];
static char sbuf[65536];

static int fail(const char *what) {
    fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
    return 1;
}

/* A socket of `type` bound to 127.0.0.1 on an ephemeral port; its address in *sa. */
static int bound(int type, struct sockaddr_in *sa) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *sa;
    if (bind(fd, (struct sockaddr *)sa, sizeof *sa) || getsockname(fd, (struct sockaddr *)sa, &len))
        return close(fd), -1;
    return fd;
}

static int read_full(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Server side of tcpbulk, tcprr and connect: peer_fd is the listening socket. */
static void *bulk_server(void *arg) {
    (void)arg;
    int c = accept(peer_fd, NULL, NULL);
    if (c < 0)
        return peer_rc = fail("accept"), NULL;
    long long total = 0;
    ssize_t r;
    while ((r = read(c, sbuf, sizeof sbuf)) > 0)
        total += r;
    if (r < 0 || total != (long long)rounds << 20) {
        fprintf(stderr, "netbench: server got %lld bytes, want %lld\n", total, (long long)rounds << 20);
        peer_rc = 1;
    }
    close(c);
    return NULL;
}

static void *echo_server(void *arg) {
    (void)arg;
    int c = accept(peer_fd, NULL, NULL);
    if (c < 0)
        return peer_rc = fail("accept"), NULL;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char b;
    for (long i = 0; i < rounds; i++) {
        if (read(c, &b, 1) != 1 || write(c, &b, 1) != 1)
            return peer_rc = fail("echo"), NULL;
    }
    close(c);
    return NULL;
}

static void *accept_server(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        int c = accept(peer_fd, NULL, NULL);
        if (c < 0)
            return peer_rc = fail("accept"), NULL;
        close(c);
    }
    return NULL;
}

static void *udp_server(void *arg) {
    (void)arg;
    char b;
    struct sockaddr_in from;
    for (long i = 0; i < rounds; i++) {
        socklen_t len = sizeof from;
        if (recvfrom(peer_fd, &b, 1, 0, (struct sockaddr *)&from, &len) != 1 ||
            sendto(peer_fd, &b, 1, 0, (struct sockaddr *)&from, len) != 1)
            return peer_rc = fail("udp echo"), NULL;
    }
    return NULL;
}

static void *unix_server(void *arg) {
    (void)arg;
    char b;
    for (long i = 0; i < rounds; i++) {
        if (read(peer_fd, &b, 1) != 1 || write(peer_fd, &b, 1) != 1)
            return peer_rc = fail("unix echo"), NULL;
    }
    return NULL;
}

static int tcp_connect(const struct sockaddr_in *sa) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa))
        return close(fd), -1;
    return fd;
}

static int run(const char *m, long n) {
    rounds = n;
    void *(*server)(void *) = NULL;
    int type = SOCK_STREAM;
    if (!strcmp(m, "tcpbulk"))
        server = bulk_server;
    else if (!strcmp(m, "tcprr"))
        server = echo_server;
    else if (!strcmp(m, "connect"))
        server = accept_server;
    else if (!strcmp(m, "udp"))
        server = udp_server, type = SOCK_DGRAM;
    else if (!strcmp(m, "unix"))
        server = unix_server;
    else
        return fprintf(stderr, "netbench: unknown mode %s\n", m), 2;

    int sv[2] = {-1, -1};
    if (!strcmp(m, "unix")) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
            return fail("socketpair");
        peer_fd = sv[1];
    } else {
        peer_fd = bound(type, &peer_addr);
        if (peer_fd < 0)
            return fail("bind 127.0.0.1");
        if (type == SOCK_STREAM && listen(peer_fd, 128))
            return fail("listen");
    }
    pthread_t t;
    if (pthread_create(&t, NULL, server, NULL))
        return fprintf(stderr, "netbench: pthread_create failed\n"), 1;

    int rc = 0;
    char b = 'x';
    if (!strcmp(m, "tcpbulk")) {
        int fd = tcp_connect(&peer_addr);
        if (fd < 0)
            return fail("connect");
        memset(buf, 'x', sizeof buf);
        for (long i = 0; i < n * 16 && rc == 0; i++) {
            size_t off = 0;
            while (off < sizeof buf) {
                ssize_t w = write(fd, buf + off, sizeof buf - off);
                if (w <= 0) {
                    rc = fail("write");
                    break;
                }
                off += (size_t)w;
            }
        }
        close(fd);
    } else if (!strcmp(m, "tcprr")) {
        int fd = tcp_connect(&peer_addr);
        if (fd < 0)
            return fail("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (long i = 0; i < n && rc == 0; i++)
            if (write(fd, &b, 1) != 1 || read_full(fd, &b, 1))
                rc = fail("ping-pong");
        close(fd);
    } else if (!strcmp(m, "connect")) {
        for (long i = 0; i < n && rc == 0; i++) {
            int fd = tcp_connect(&peer_addr);
            if (fd < 0) {
                rc = fail("connect");
                break;
            }
            if (read(fd, &b, 1) != 0)
                rc = fail("read EOF");
            close(fd);
        }
    } else if (!strcmp(m, "udp")) {
        struct sockaddr_in me;
        int fd = bound(SOCK_DGRAM, &me);
        if (fd < 0 || connect(fd, (struct sockaddr *)&peer_addr, sizeof peer_addr))
            return fail("udp socket");
        for (long i = 0; i < n && rc == 0; i++)
            if (send(fd, &b, 1, 0) != 1 || recv(fd, &b, 1, 0) != 1)
                rc = fail("udp ping-pong");
        close(fd);
    } else {
        for (long i = 0; i < n && rc == 0; i++)
            if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1)
                rc = fail("unix ping-pong");
    }
    if (rc)
        return rc; /* the server thread may be blocked; exit without joining */
    pthread_join(t, NULL);
    return peer_rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: netbench tcpbulk|tcprr|connect|udp|unix [N]\n");
        return 2;
    }
    return run(argv[1], argc > 2 ? atol(argv[2]) : 0);
}
