/* A client of a host unix socket (unix(7), connect(2)) reached through a bind mount, for
 * `runsc --host-uds=open`: `host_uds PATH` connects a SOCK_STREAM socket to PATH and prints the
 * result; when connected, it sends "hello", polls for the echo, reads it, prints the peer's
 * name, tries to pass a descriptor (SCM_RIGHTS), shuts its writing side and reads the server's
 * EOF. `host_uds PATH block` instead waits in read(2) on a connection the server never writes
 * to, until SIGALRM (no SA_RESTART) ends it with EINTR. `host_uds PATH seqpacket` connects a
 * SOCK_SEQPACKET socket and shows that message boundaries hold (a short read drops the rest of
 * its message). Errors print as errno names. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: host_uds PATH [block|seqpacket]\n");
        return 2;
    }
    int seqpacket = argc > 2 && strcmp(argv[2], "seqpacket") == 0;
    int s = socket(AF_UNIX, seqpacket ? SOCK_SEQPACKET : SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
    long r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("connect: %s\n", err(r));
    if (r < 0)
        return 0;

    if (seqpacket) {
        char b[64];
        long n1 = send(s, "one", 3, 0);
        long n2 = send(s, "two!", 4, 0);
        long n3 = send(s, "three", 5, 0);
        printf("send: %ld %ld %ld\n", n1, n2, n3);
        for (int i = 0; i < 2; i++) {
            memset(b, 0, sizeof b);
            r = recv(s, b, sizeof b - 1, 0);
            printf("recv: %ld %s\n", r, r < 0 ? err(r) : b);
        }
        memset(b, 0, sizeof b);
        r = recv(s, b, 2, 0);
        printf("short recv: %ld %s\n", r, r < 0 ? err(r) : b);
        shutdown(s, SHUT_WR);
        r = recv(s, b, sizeof b - 1, 0);
        printf("after shutdown: %ld\n", r);
        return 0;
    }

    if (argc > 2 && strcmp(argv[2], "block") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        alarm(1);
        char b[8];
        r = read(s, b, sizeof b);
        printf("blocked read: %s\n", err(r));
        return 0;
    }

    r = write(s, "hello", 5);
    printf("write: %ld\n", r);
    struct pollfd p = {.fd = s, .events = POLLIN};
    r = poll(&p, 1, 30000);
    printf("poll: %ld POLLIN=%d\n", r, (p.revents & POLLIN) != 0);
    char buf[64] = {0};
    r = read(s, buf, sizeof buf - 1);
    printf("echo: %s\n", r < 0 ? err(r) : buf);

    struct sockaddr_un peer;
    socklen_t len = sizeof peer;
    memset(&peer, 0, sizeof peer);
    r = getpeername(s, (struct sockaddr *)&peer, &len);
    printf("getpeername: %s %s\n", err(r), r == 0 ? peer.sun_path : "");

    /* A descriptor cannot ride through a host socket from the sandbox. */
    char data = 'x';
    struct iovec iov = {.iov_base = &data, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int zero = 0;
    memcpy(CMSG_DATA(c), &zero, sizeof zero);
    r = sendmsg(s, &m, 0);
    printf("sendmsg SCM_RIGHTS: %s\n", err(r));

    r = shutdown(s, SHUT_WR);
    printf("shutdown: %s\n", err(r));
    r = read(s, buf, sizeof buf - 1);
    printf("after shutdown: %ld\n", r);
    close(s);
    return 0;
}
