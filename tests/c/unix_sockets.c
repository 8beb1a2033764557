/* Unix domain sockets (unix(7), socket(2)): socketpair of every type, message boundaries,
 * MSG_TRUNC/PEEK/DONTWAIT/WAITALL/NOSIGNAL, bind/listen/connect/accept on a path and on an
 * abstract name, autobind, ECONNREFUSED, non-blocking connect with poll, backlog, shutdown,
 * SCM_RIGHTS between processes (with MSG_CTRUNC), SCM_CREDENTIALS, SO_PEERCRED, socket options,
 * sendmmsg/recvmmsg, fstat and /proc/self/fd names. Prints one line per case; the sandbox must
 * print the same. Process ids are compared, never printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static int sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int send_fds(int sock, const int *fds, int n, const char *data) {
    char ctl[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    return sendmsg(sock, &m, 0);
}

/* Receives into buf; returns the fds found (up to max) in fds, their count in *nfds. */
static long recv_fds(int sock, char *buf, size_t len, int *fds, int *nfds, size_t ctllen, int flags,
                     int *msg_flags, size_t *out_ctllen) {
    char ctl[256];
    struct iovec iov = {buf, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = ctllen;
    long r = recvmsg(sock, &m, flags);
    *nfds = 0;
    if (r < 0) return r;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + *nfds, CMSG_DATA(c), n * sizeof(int));
            *nfds += n;
        }
    }
    *msg_flags = m.msg_flags;
    *out_ctllen = m.msg_controllen;
    return r;
}

static void socketpairs(void) {
    int sv[2];
    char buf[64];
    long r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf("stream pair=%s\n", err(r));
    r = write(sv[0], "ping", 4);
    r = read(sv[1], buf, sizeof buf);
    printf("stream read=%ld %.4s\n", r, buf);
    r = send(sv[1], "pong!", 5, 0);
    r = recv(sv[0], buf, sizeof buf, 0);
    printf("stream recv=%ld %.5s\n", r, buf);
    struct stat st;
    fstat(sv[0], &st);
    printf("fstat sock=%d mode=%o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    char path[64], link[64], want[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", sv[0]);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "socket:[%lu]", (unsigned long)st.st_ino);
    printf("proc link matches=%d\n", strcmp(link, want) == 0);
    int v = -1;
    socklen_t l = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l);
    printf("SO_TYPE=%d len=%u\n", v, l);
    getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &l);
    printf("SO_DOMAIN=%d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &l);
    printf("SO_PROTOCOL=%d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &l);
    printf("SO_ACCEPTCONN=%d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &l);
    printf("SO_ERROR=%d\n", v);
    struct sockaddr_un a;
    l = sizeof a;
    r = getsockname(sv[0], (struct sockaddr *)&a, &l);
    printf("pair getsockname=%s len=%u\n", err(r), l);
    l = sizeof a;
    r = getpeername(sv[0], (struct sockaddr *)&a, &l);
    printf("pair getpeername=%s len=%u\n", err(r), l);
    struct ucred uc;
    l = sizeof uc;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &l);
    printf("pair peercred self=%d uid=%d\n", uc.pid == getpid(), uc.uid == getuid());

    struct pollfd p = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    printf("poll idle=%x\n", p.revents);
    write(sv[1], "x", 1);
    poll(&p, 1, 0);
    printf("poll data=%x\n", p.revents);
    r = recv(sv[0], buf, 1, MSG_PEEK);
    printf("peek=%ld %c\n", r, buf[0]);
    r = recv(sv[0], buf, sizeof buf, 0);
    printf("after peek=%ld\n", r);
    r = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
    printf("dontwait=%s\n", err(r));

    /* Half-close: SHUT_WR gives the peer EOF; the other direction still works. */
    write(sv[0], "last", 4);
    r = shutdown(sv[0], SHUT_WR);
    printf("shutdown=%s\n", err(r));
    r = read(sv[1], buf, sizeof buf);
    printf("half read=%ld\n", r);
    r = read(sv[1], buf, sizeof buf);
    printf("half eof=%ld\n", r);
    p.fd = sv[1];
    poll(&p, 1, 0);
    printf("poll half=%x\n", p.revents);
    r = write(sv[1], "back", 4);
    r = read(sv[0], buf, sizeof buf);
    printf("reverse=%ld\n", r);
    r = send(sv[0], "x", 1, MSG_NOSIGNAL);
    printf("send after shut_wr=%s sigpipes=%d\n", err(r), sigpipes);
    close(sv[1]);
    p.fd = sv[0];
    poll(&p, 1, 0);
    printf("poll closed=%x\n", p.revents);
    r = send(sv[0], "x", 1, MSG_NOSIGNAL);
    printf("nosignal=%s sigpipes=%d\n", err(r), sigpipes);
    r = write(sv[0], "x", 1);
    printf("write closed=%s sigpipes=%d\n", err(r), sigpipes);
    close(sv[0]);

    /* Datagrams keep boundaries; MSG_TRUNC. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defghij", 7, 0);
    send(sv[0], "", 0, 0);
    r = recv(sv[1], buf, 2, 0);
    printf("dgram short=%ld %.2s\n", r, buf);
    r = recv(sv[1], buf, 2, MSG_TRUNC);
    printf("dgram trunc=%ld\n", r);
    r = recv(sv[1], buf, sizeof buf, 0);
    printf("dgram empty=%ld\n", r);
    send(sv[0], "0123456789", 10, 0);
    struct iovec iov = {buf, 4};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    r = recvmsg(sv[1], &m, 0);
    printf("recvmsg=%ld trunc=%d\n", r, !!(m.msg_flags & MSG_TRUNC));
    /* sendmmsg/recvmmsg */
    struct mmsghdr mm[3];
    struct iovec iovs[3];
    char bufs[3][16];
    const char *words[3] = {"one", "three", "fifteen"};
    for (int i = 0; i < 3; i++) {
        memset(&mm[i], 0, sizeof mm[i]);
        iovs[i].iov_base = (void *)words[i];
        iovs[i].iov_len = strlen(words[i]);
        mm[i].msg_hdr.msg_iov = &iovs[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    r = sendmmsg(sv[0], mm, 3, 0);
    printf("sendmmsg=%ld lens=%u,%u,%u\n", r, mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
    for (int i = 0; i < 3; i++) {
        memset(&mm[i], 0, sizeof mm[i]);
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = sizeof bufs[i];
        mm[i].msg_hdr.msg_iov = &iovs[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    r = recvmmsg(sv[1], mm, 3, MSG_DONTWAIT, NULL);
    printf("recvmmsg=%ld lens=%u,%u,%u %.7s\n", r, mm[0].msg_len, mm[1].msg_len, mm[2].msg_len, bufs[2]);
    close(sv[1]);
    r = send(sv[0], "x", 1, 0);
    printf("dgram peer closed=%s\n", err(r));
    close(sv[0]);

    /* Seqpacket: records and EOF. */
    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);
    printf("seq cloexec=%d nonblock=%d\n", fcntl(sv[0], F_GETFD) & FD_CLOEXEC,
           !!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    send(sv[0], "rec1", 4, 0);
    send(sv[0], "record2", 7, 0);
    r = recv(sv[1], buf, 3, 0);
    printf("seq short=%ld\n", r);
    r = recv(sv[1], buf, sizeof buf, 0);
    printf("seq next=%ld %.7s\n", r, buf);
    r = recv(sv[1], buf, sizeof buf, 0);
    printf("seq empty=%s\n", err(r));
    close(sv[0]);
    r = recv(sv[1], buf, sizeof buf, 0);
    printf("seq eof=%ld\n", r);
    close(sv[1]);

    r = socketpair(AF_UNIX, 77, 0, sv);
    printf("bad type=%s\n", err(r));
}

static void named(const char *dir) {
    char path[200], buf[64];
    struct sockaddr_un a, b;
    socklen_t l;
    long r;
    snprintf(path, sizeof path, "%s/sock", dir);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t al = path_addr(&a, path);
    r = connect(ls, (struct sockaddr *)&a, al);
    printf("connect missing=%s\n", err(r));
    r = listen(ls, 5);
    printf("listen unbound=%s\n", err(r));
    r = bind(ls, (struct sockaddr *)&a, al);
    printf("bind=%s\n", err(r));
    struct stat st;
    stat(path, &st);
    printf("node is sock=%d\n", S_ISSOCK(st.st_mode));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    r = bind(other, (struct sockaddr *)&a, al);
    printf("bind again=%s\n", err(r));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("connect not listening=%s\n", err(r));
    close(c);
    r = listen(ls, 5);
    printf("listen=%s\n", err(r));
    int v;
    l = sizeof v;
    getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &v, &l);
    printf("acceptconn=%d\n", v);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("connect=%s\n", err(r));
    l = sizeof b;
    int s = accept(ls, (struct sockaddr *)&b, &l);
    printf("accept=%s peerlen=%u\n", err(s), l);
    l = sizeof b;
    getsockname(s, (struct sockaddr *)&b, &l);
    printf("server name=%s len_ok=%d\n", strcmp(b.sun_path, path) == 0 ? "path" : "other", l == al);
    l = sizeof b;
    getpeername(c, (struct sockaddr *)&b, &l);
    printf("client peer=%s\n", strcmp(b.sun_path, path) == 0 ? "path" : "other");
    l = sizeof b;
    r = getpeername(ls, (struct sockaddr *)&b, &l);
    printf("listener peer=%s\n", err(r));
    write(c, "hello server", 12);
    r = read(s, buf, sizeof buf);
    printf("server read=%ld\n", r);
    r = read(ls, buf, sizeof buf);
    printf("read listener=%s\n", err(r));
    close(c);
    close(s);
    r = unlink(path);
    printf("unlink=%s\n", err(r));
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("connect unlinked=%s\n", err(r));
    close(c);
    close(ls);
    close(other);

    /* A closed listener's node refuses. */
    snprintf(path, sizeof path, "%s/gone", dir);
    al = path_addr(&a, path);
    ls = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(ls, (struct sockaddr *)&a, al);
    listen(ls, 1);
    close(ls);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("connect closed listener=%s\n", err(r));
    close(c);
    c = socket(AF_UNIX, SOCK_DGRAM, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("connect wrong type=%s\n", err(r));
    close(c);
    unlink(path);

    /* Abstract names and autobind. */
    char name[64];
    snprintf(name, sizeof name, "unix-sockets-test-%d", getpid());
    al = abstract_addr(&a, name);
    ls = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    r = bind(ls, (struct sockaddr *)&a, al);
    printf("abstract bind=%s\n", err(r));
    other = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    r = bind(other, (struct sockaddr *)&a, al);
    printf("abstract again=%s\n", err(r));
    listen(ls, 0);
    c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("abstract connect=%s\n", err(r));
    l = sizeof b;
    getpeername(c, (struct sockaddr *)&b, &l);
    printf("abstract peer len_ok=%d match=%d\n", l == al, memcmp(&a, &b, al) == 0);
    s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    printf("accept4 cloexec=%d\n", fcntl(s, F_GETFD));
    send(s, "msg", 3, 0);
    r = recv(c, buf, sizeof buf, 0);
    printf("abstract recv=%ld\n", r);
    close(s);
    close(c);
    close(ls);
    c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    r = connect(c, (struct sockaddr *)&a, al);
    printf("abstract closed=%s\n", err(r));
    r = bind(other, (struct sockaddr *)&a, al);
    printf("abstract rebind=%s\n", err(r));
    close(other);
    close(c);

    int ab = socket(AF_UNIX, SOCK_DGRAM, 0);
    a.sun_family = AF_UNIX;
    r = bind(ab, (struct sockaddr *)&a, sizeof(sa_family_t));
    l = sizeof b;
    getsockname(ab, (struct sockaddr *)&b, &l);
    printf("autobind=%s len=%u nul=%d\n", err(r), l, b.sun_path[0] == 0);
    /* Datagram to a bound name: the sender's name arrives with it. */
    int snd = socket(AF_UNIX, SOCK_DGRAM, 0);
    r = sendto(snd, "anon", 4, 0, (struct sockaddr *)&b, l);
    printf("sendto=%ld\n", r);
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    r = recvfrom(ab, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("recvfrom unnamed=%ld fromlen=%u\n", r, fl);
    snprintf(path, sizeof path, "%s/dgram", dir);
    al = path_addr(&a, path);
    bind(snd, (struct sockaddr *)&a, al);
    sendto(snd, "named", 5, 0, (struct sockaddr *)&b, l);
    fl = sizeof from;
    r = recvfrom(ab, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("recvfrom named=%ld from_ok=%d\n", r, fl == al && strcmp(from.sun_path, path) == 0);
    r = send(snd, "x", 1, 0);
    printf("dgram unconnected send=%s\n", err(r));
    close(snd);
    close(ab);
    unlink(path);
}

static void nonblocking_and_backlog(void) {
    char name[64], buf[16];
    struct sockaddr_un a;
    long r;
    snprintf(name, sizeof name, "unix-backlog-%d", getpid());
    socklen_t al = abstract_addr(&a, name);
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    bind(ls, (struct sockaddr *)&a, al);
    listen(ls, 1);
    r = accept(ls, NULL, NULL);
    printf("accept empty=%s\n", err(r));
    struct pollfd p = {ls, POLLIN, 0};
    printf("poll listener idle=%d\n", poll(&p, 1, 0));
    int cs[4], n = 0;
    for (int i = 0; i < 4; i++) {
        cs[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        r = connect(cs[i], (struct sockaddr *)&a, al);
        if (r == 0) n++;
        else printf("connect %d=%s\n", i, err(r));
    }
    printf("backlog accepted=%d\n", n);
    int ready = poll(&p, 1, 0);
    printf("poll listener=%d revents=%x\n", ready, p.revents);
    /* A blocking connect waits for room in the backlog. */
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        long rr = connect(c, (struct sockaddr *)&a, al);
        write(c, rr == 0 ? "Y" : "N", 1);
        _exit(0);
    }
    usleep(100000);
    int got = 0;
    for (int tries = 0; tries < 200 && got < 3; tries++) {
        int s = accept(ls, NULL, NULL);
        if (s < 0) {
            poll(&p, 1, 50);
            continue;
        }
        got++;
        if (got == 3) {
            struct pollfd q = {s, POLLIN, 0};
            poll(&q, 1, 5000);
            r = read(s, buf, 1);
            printf("blocked connect completed=%ld %c\n", r, buf[0]);
        }
        close(s);
    }
    printf("accepted=%d\n", got);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < 4; i++) close(cs[i]);
    close(ls);
}

static void passing(const char *dir) {
    int sv[2];
    char buf[64], path[200];
    snprintf(path, sizeof path, "%s/file", dir);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
        write(f, "file-contents", 13);
        lseek(f, 5, SEEK_SET);
        int p[2];
        pipe(p);
        write(p[1], "pipe-contents", 13);
        int fds[2] = {f, p[0]};
        long r = send_fds(sv[1], fds, 2, "F");
        close(f);
        close(p[0]);
        close(p[1]);
        /* Credentials: the sender's pid travels with the connection. */
        struct ucred uc;
        socklen_t l = sizeof uc;
        getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &l);
        printf("child sent=%ld\n", r);
        fflush(stdout);
        _exit(0);
    }
    close(sv[1]);
    int fds[8], nfds, mf;
    size_t cl;
    long r = recv_fds(sv[0], buf, sizeof buf, fds, &nfds, CMSG_SPACE(sizeof(int) * 2), MSG_CMSG_CLOEXEC,
                      &mf, &cl);
    waitpid(pid, NULL, 0);
    printf("recv fds=%ld nfds=%d ctrunc=%d\n", r, nfds, !!(mf & MSG_CTRUNC));
    if (nfds == 2) {
        printf("cloexec=%d\n", fcntl(fds[0], F_GETFD));
        r = read(fds[0], buf, sizeof buf);
        printf("file read=%ld %.8s\n", r, buf);
        r = read(fds[1], buf, sizeof buf);
        printf("pipe read=%ld %.13s\n", r, buf);
        struct stat st;
        fstat(fds[1], &st);
        printf("pipe is fifo=%d\n", S_ISFIFO(st.st_mode));
        close(fds[0]);
        close(fds[1]);
    }
    unlink(path);
    close(sv[0]);

    /* Too small a control buffer: MSG_CTRUNC and the fds that fit. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int three[3] = {0, 1, 2};
    send_fds(sv[0], three, 3, "three");
    r = recv_fds(sv[1], buf, sizeof buf, fds, &nfds, CMSG_LEN(sizeof(int)), 0, &mf, &cl);
    printf("small ctl=%ld nfds=%d ctrunc=%d controllen=%zu\n", r, nfds, !!(mf & MSG_CTRUNC), cl);
    for (int i = 0; i < nfds; i++) close(fds[i]);
    send_fds(sv[0], three, 3, "three");
    r = recv_fds(sv[1], buf, sizeof buf, fds, &nfds, 0, 0, &mf, &cl);
    printf("no ctl=%ld nfds=%d ctrunc=%d\n", r, nfds, !!(mf & MSG_CTRUNC));
    int bad[1] = {999};
    r = send_fds(sv[0], bad, 1, "bad");
    printf("send bad fd=%s\n", err(r));

    /* SCM_CREDENTIALS with SO_PASSCRED. */
    int on = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    send(sv[0], "cred", 4, 0);
    char ctl[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    r = recvmsg(sv[1], &m, 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct ucred uc = {0};
    if (c && c->cmsg_type == SCM_CREDENTIALS) memcpy(&uc, CMSG_DATA(c), sizeof uc);
    printf("creds=%ld type=%d pid_ok=%d uid_ok=%d\n", r, c ? c->cmsg_type : -1, uc.pid == getpid(),
           uc.uid == getuid());
    close(sv[0]);
    close(sv[1]);
}

static void peercred(void) {
    char name[64];
    struct sockaddr_un a;
    snprintf(name, sizeof name, "unix-peercred-%d", getpid());
    socklen_t al = abstract_addr(&a, name);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(ls, (struct sockaddr *)&a, al);
    listen(ls, 4);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&a, al);
        struct ucred uc;
        socklen_t l = sizeof uc;
        getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &l);
        char msg[8];
        msg[0] = uc.pid == parent ? 'P' : 'X';
        write(c, msg, 1);
        read(c, msg, 1);
        _exit(0);
    }
    int s = accept(ls, NULL, NULL);
    struct ucred uc;
    socklen_t l = sizeof uc;
    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &l);
    char b = 0;
    read(s, &b, 1);
    printf("peercred child=%d len=%u child sees parent=%c\n", uc.pid == pid, l, b);
    write(s, "k", 1);
    waitpid(pid, NULL, 0);
    close(s);
    close(ls);

    /* MSG_WAITALL collects a stream written in pieces. */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid = fork();
    if (pid == 0) {
        write(sv[1], "abc", 3);
        usleep(50000);
        write(sv[1], "defg", 4);
        _exit(0);
    }
    char buf[16];
    long r = recv(sv[0], buf, 7, MSG_WAITALL);
    printf("waitall=%ld %.7s\n", r, buf);
    waitpid(pid, NULL, 0);
    close(sv[0]);
    close(sv[1]);
}

static void options(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int v = 65536;
    socklen_t l = sizeof v;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l);
    printf("sndbuf=%d\n", v);
    v = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
    setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
    v = 0;
    getsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, &l);
    printf("reuseaddr=%d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, &l);
    printf("keepalive=%d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, &l);
    printf("passcred=%d\n", v);
    struct linger lg = {1, 5};
    setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    memset(&lg, 0, sizeof lg);
    l = sizeof lg;
    getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, &l);
    printf("linger=%d,%d len=%u\n", lg.l_onoff, lg.l_linger, l);
    struct timeval tv = {0, 100000};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&tv, 0, sizeof tv);
    l = sizeof tv;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &l);
    printf("rcvtimeo=%ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
    char buf[4];
    long r = recv(sv[0], buf, sizeof buf, 0);
    printf("timed out=%s\n", err(r));
    r = setsockopt(sv[0], SOL_SOCKET, 9999, &v, sizeof v);
    printf("unknown opt=%s\n", err(r));
    l = sizeof v;
    r = getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l);
    r = getsockopt(0 + sv[0], SOL_SOCKET, 9999, &v, &l);
    printf("unknown getopt=%s\n", err(r));
    int pfd[2];
    pipe(pfd);
    r = getsockopt(pfd[0], SOL_SOCKET, SO_TYPE, &v, &l);
    printf("not a socket=%s\n", err(r));
    r = shutdown(pfd[0], SHUT_RD);
    printf("shutdown pipe=%s\n", err(r));
    close(pfd[0]);
    close(pfd[1]);
    int lone = socket(AF_UNIX, SOCK_STREAM, 0);
    r = shutdown(lone, SHUT_RDWR);
    struct pollfd lp = {lone, POLLIN | POLLOUT, 0};
    poll(&lp, 1, 0);
    printf("shutdown unconnected=%s poll=%x\n", err(r), lp.revents);
    close(lone);
    r = shutdown(sv[0], 7);
    printf("shutdown bad how=%s\n", err(r));
    close(sv[0]);
    close(sv[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, on_sigpipe);
    char dir[] = "/tmp/unix-sockets-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    socketpairs();
    named(dir);
    nonblocking_and_backlog();
    passing(dir);
    peercred();
    options();
    rmdir(dir);
    printf("done\n");
    return 0;
}
