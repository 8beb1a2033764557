// --network=host (tests/tests/hostnet.rs): TCP and UDP between the sandbox and a peer the test
// runs on the host's 127.0.0.1. Usage: hostnet tcp_client PORT | tcp_server | udp_client PORT
// | udp_server. Servers print "port N" first (flushed) so that the test can reach them.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int fail(const char *what) {
    printf("%s: %s\n", what, strerror(errno));
    return 1;
}

static int bound_port(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) return -1;
    return ntohs(a.sin_port);
}

static int tcp_client(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return fail("socket");
    struct sockaddr_in a = loopback(port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("connect");
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0) return fail("getpeername");
    printf("connected to port %s\n", ntohs(peer.sin_port) == port ? "as asked" : "other");
    int one = 1;
    printf("TCP_NODELAY set: %d\n", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    struct stat st;
    printf("fstat is a socket: %d\n", fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
    const char *msg = "ping from the sandbox\n";
    if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) return fail("write");
    shutdown(fd, SHUT_WR);
    char buf[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n < 0) return fail("read");
        if (n == 0) break;
        got += (size_t)n;
    }
    buf[got] = 0;
    printf("reply: %s", buf);
    close(fd);
    return 0;
}

static int tcp_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return fail("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("bind");
    if (listen(fd, 4) != 0) return fail("listen");
    printf("port %d\n", bound_port(fd));
    fflush(stdout);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int c = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
    if (c < 0) return fail("accept4");
    char buf[256];
    ssize_t n = recv(c, buf, sizeof buf - 1, MSG_WAITALL);
    if (n < 0) return fail("recv");
    buf[n] = 0;
    printf("server got: %s", buf);
    printf("peer is loopback: %d\n", peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    char reply[300];
    snprintf(reply, sizeof reply, "echo: %s", buf);
    if (send(c, reply, strlen(reply), 0) != (ssize_t)strlen(reply)) return fail("send");
    close(c);
    close(fd);
    printf("served\n");
    return 0;
}

static int udp_client(int port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return fail("socket");
    struct sockaddr_in a = loopback(port);
    const char *msg = "datagram from the sandbox";
    if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a) < 0) return fail("sendto");
    char buf[256];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);
    if (n < 0) return fail("recvfrom");
    buf[n] = 0;
    printf("udp reply: %s from the server: %d\n", buf, ntohs(from.sin_port) == port);
    close(fd);
    return 0;
}

static int udp_server(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return fail("socket");
    struct sockaddr_in a = loopback(0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail("bind");
    printf("port %d\n", bound_port(fd));
    fflush(stdout);
    char buf[256];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    struct msghdr m;
    struct iovec iov = {buf, sizeof buf - 1};
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = len;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &m, 0);
    if (n < 0) return fail("recvmsg");
    buf[n] = 0;
    int avail = -1;
    ioctl(fd, FIONREAD, &avail);
    printf("udp server got: %s (then %d queued)\n", buf, avail);
    if (sendto(fd, "pong", 4, 0, (struct sockaddr *)&from, m.msg_namelen) != 4) return fail("sendto");
    close(fd);
    printf("served\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && strcmp(argv[1], "tcp_client") == 0) return tcp_client(atoi(argv[2]));
    if (argc >= 2 && strcmp(argv[1], "tcp_server") == 0) return tcp_server();
    if (argc >= 3 && strcmp(argv[1], "udp_client") == 0) return udp_client(atoi(argv[2]));
    if (argc >= 2 && strcmp(argv[1], "udp_server") == 0) return udp_server();
    fprintf(stderr, "usage: hostnet tcp_client PORT | tcp_server | udp_client PORT | udp_server\n");
    return 2;
}
