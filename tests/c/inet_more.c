/* More loopback TCP/UDP semantics (tcp(7), udp(7), ipv6(7)): TCP_CORK and TCP_NODELAY,
 * TCP_INFO's common fields, SO_REUSEPORT, half-close, RST when a socket closes with unread
 * data, IPv4-mapped IPv6 and IPV6_V6ONLY, UDP EMSGSIZE and message boundaries. Prints relations
 * only; the sandbox must print the same. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static int listener(int family, int port, int reuseport) {
    int l = socket(family, SOCK_STREAM, 0);
    int one = 1;
    if (reuseport) setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_any;
        len = sizeof *a;
    }
    if (bind(l, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(l);
        errno = e;
        return -1;
    }
    listen(l, 8);
    return l;
}

static int port_of(int s) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(s, (struct sockaddr *)&ss, &len);
    return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int connect4(int port) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) return -1;
    return c;
}

static int getint(int s, int level, int opt) {
    int v = -1;
    socklen_t len = sizeof v;
    getsockopt(s, level, opt, &v, &len);
    return v;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* TCP_CORK / TCP_NODELAY and TCP_INFO on an established connection. */
    int l = listener(AF_INET, 0, 0);
    int port = port_of(l);
    int c = connect4(port);
    int s = accept(l, NULL, NULL);
    int one = 1, zero = 0;
    printf("cork set=%s\n", err(setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one)));
    printf("cork get=%d\n", getint(c, IPPROTO_TCP, TCP_CORK));
    setsockopt(c, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero);
    printf("nodelay set=%s\n", err(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)));
    printf("nodelay get=%d\n", getint(c, IPPROTO_TCP, TCP_NODELAY) != 0);
    write(c, "ping", 4);
    char b[64];
    read(s, b, 4);
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t tlen = sizeof ti;
    int r = getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tlen);
    printf("tcp_info=%s state established=%d len>=104=%d mss>0=%d wscale=%d\n", err(r),
           ti.tcpi_state == TCP_ESTABLISHED, tlen >= 104, ti.tcpi_snd_mss > 0,
           (ti.tcpi_options & TCPI_OPT_WSCALE) != 0);
    tlen = sizeof ti;
    getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &tlen);
    printf("listener tcp_info state listen=%d backlog max=%u\n", ti.tcpi_state == TCP_LISTEN,
           ti.tcpi_sacked);

    /* Half-close: the peer reads EOF and can still answer. */
    printf("shutdown wr=%s\n", err(shutdown(c, SHUT_WR)));
    printf("peer reads eof=%zd\n", read(s, b, sizeof b));
    printf("peer answers=%zd\n", write(s, "back", 4));
    printf("half-closed side reads=%zd\n", read(c, b, sizeof b));
    printf("write after shutdown=%s\n", err(send(c, "x", 1, MSG_NOSIGNAL)));
    close(c);
    close(s);

    /* Closing with unread data resets the connection: the peer sees ECONNRESET. */
    c = connect4(port);
    s = accept(l, NULL, NULL);
    write(c, "unread", 6);
    struct pollfd p = {s, POLLIN, 0};
    poll(&p, 1, 2000);
    close(s);
    p.fd = c;
    p.events = POLLIN;
    poll(&p, 1, 2000);
    printf("rst: read=%s\n", err(read(c, b, sizeof b)));
    close(c);
    close(l);

    /* SO_REUSEPORT: two listeners on one port only when both ask. */
    int a1 = listener(AF_INET, 0, 1);
    int rp = port_of(a1);
    int a2 = listener(AF_INET, rp, 1);
    printf("reuseport both=%s\n", err(a2));
    int a3 = listener(AF_INET, rp, 0);
    printf("reuseport third without=%s\n", err(a3));
    close(a1);
    if (a2 >= 0) close(a2);

    /* An IPv6 listener on :: takes IPv4 connections as v4-mapped; V6ONLY refuses them. */
    int l6 = listener(AF_INET6, 0, 0);
    int p6 = port_of(l6);
    printf("v6only default=%d\n", getint(l6, IPPROTO_IPV6, IPV6_V6ONLY));
    c = connect4(p6);
    struct sockaddr_in6 peer;
    socklen_t plen = sizeof peer;
    s = accept(l6, (struct sockaddr *)&peer, &plen);
    char ip[64];
    inet_ntop(AF_INET6, &peer.sin6_addr, ip, sizeof ip);
    printf("v4 to v6 listener=%s peer=%s mapped=%d\n", err(s), ip,
           IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr));
    close(c);
    close(s);
    close(l6);
    int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    printf("set v6only=%s\n", err(setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)));
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    bind(v6, (struct sockaddr *)&any6, sizeof any6);
    listen(v6, 1);
    c = connect4(port_of(v6));
    printf("v4 to v6only listener=%s\n", c < 0 ? strerrorname_np(errno) : "connected");
    if (c >= 0) close(c);
    close(v6);

    /* UDP: a datagram over 65507 bytes is EMSGSIZE; boundaries are kept. */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = {.sin_family = AF_INET};
    ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(u, (struct sockaddr *)&ua, sizeof ua);
    socklen_t ulen = sizeof ua;
    getsockname(u, (struct sockaddr *)&ua, &ulen);
    static char big[70000];
    printf("udp 65508=%s\n", err(sendto(u, big, 65508, 0, (struct sockaddr *)&ua, sizeof ua)));
    printf("udp 65507=%zd\n", sendto(u, big, 65507, 0, (struct sockaddr *)&ua, sizeof ua));
    printf("udp read it=%zd\n", recv(u, big, sizeof big, 0));
    sendto(u, "ab", 2, 0, (struct sockaddr *)&ua, sizeof ua);
    sendto(u, "cde", 3, 0, (struct sockaddr *)&ua, sizeof ua);
    ssize_t first = recv(u, b, sizeof b, 0);
    printf("udp boundaries=%zd,%zd\n", first, recv(u, b, sizeof b, 0));
    close(u);
    printf("done\n");
    return 0;
}
