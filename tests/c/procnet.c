// /proc/net/{tcp,tcp6,udp,udp6,unix,dev} and /proc/self/net (proc(5)): the program's own
// sockets (found by inode, since the host has others) appear with the kernel's columns, the
// headers and line widths are the kernel's, and net-tools' netstat parses them.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Below the ephemeral range (32768-60999), where any socket on the host could hold it. */
#define FIXED_PORT 29127

static unsigned long ino_of(int fd) {
    struct stat st;
    fstat(fd, &st);
    return st.st_ino;
}

static int port_of(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static char *slurp(const char *path) {
    static char bufs[2][1 << 20];
    static int which;
    char *b = bufs[which++ % 2];
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("FAIL open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

// Prints the header of an inet table and, for each of `inos`, its line with the port shown
// as PORT when it is `ports[i]`.
static void inet_table(const char *name, unsigned long *inos, int *ports, const char **what, int n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/net/%s", name);
    char *text = slurp(path);
    char *line = strtok(text, "\n");
    char found[8][256];
    memset(found, 0, sizeof found);
    printf("%s header: [%s] len=%zu\n", name, line, strlen(line));
    while ((line = strtok(NULL, "\n"))) {
        char local[64], remote[64];
        unsigned st, txq, rxq, uid;
        unsigned long ino;
        int sl;
        if (sscanf(line, "%d: %63s %63s %x %x:%x %*x:%*x %*x %u %*d %lu", &sl, local, remote, &st,
                   &txq, &rxq, &uid, &ino) != 8) {
            printf("FAIL parse %s: %s\n", name, line);
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (ino != inos[i])
                continue;
            char *lp = strrchr(local, ':');
            char *rp = strrchr(remote, ':');
            int lport = (int)strtol(lp + 1, NULL, 16), rport = (int)strtol(rp + 1, NULL, 16);
            *lp = *rp = 0;
            // UDP's rx_queue counts buffer memory, not bytes: only whether it is empty.
            char rx[16];
            snprintf(rx, sizeof rx, strstr(name, "udp") && rxq ? "nonzero" : "%u", rxq);
            snprintf(found[i], sizeof found[i],
                     "  %s: local=%s:%s remote=%s:%s st=%02X txq=%u rxq=%s uid_ok=%d len=%zu\n",
                     what[i], local, lport == ports[i] ? "PORT" : "other", remote,
                     rport == 0 ? "0" : rport == ports[i] ? "PORT" : "peer", st, txq, rx,
                     uid == getuid(), strchr(name, '6') ? 0 : strlen(line));
        }
    }
    for (int i = 0; i < n; i++)
        printf("%s", found[i][0] ? found[i] : "  (absent)\n");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(FIXED_PORT),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a4, sizeof a4) != 0 || listen(l, 4) != 0) {
        printf("FAIL listen %d: %s\n", FIXED_PORT, strerror(errno));
        return 1;
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a4, sizeof a4);
    int s = accept(l, NULL, NULL);
    write(c, "hello", 5);
    // A second connection left waiting in the accept queue.
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    connect(c2, (struct sockaddr *)&a4, sizeof a4);
    int unbound = socket(AF_INET, SOCK_STREAM, 0);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    a4.sin_port = 0;
    bind(u, (struct sockaddr *)&a4, sizeof a4);
    int u2 = socket(AF_INET, SOCK_DGRAM, 0);
    a4.sin_port = htons(port_of(u));
    connect(u2, (struct sockaddr *)&a4, sizeof a4);
    send(u2, "datagram", 8, 0);

    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bind(l6, (struct sockaddr *)&a6, sizeof a6);
    listen(l6, 1);
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    bind(u6, (struct sockaddr *)&a6, sizeof a6);

    {
        unsigned long inos[] = {ino_of(l), ino_of(c), ino_of(s), ino_of(c2), ino_of(unbound)};
        int p = FIXED_PORT;
        int ports[] = {p, p, p, p, p};
        const char *what[] = {"listener", "client", "server", "queued client", "unbound"};
        inet_table("tcp", inos, ports, what, 5);
    }
    {
        unsigned long inos[] = {ino_of(u), ino_of(u2)};
        int ports[] = {port_of(u), port_of(u)};
        const char *what[] = {"udp bound", "udp connected"};
        inet_table("udp", inos, ports, what, 2);
    }
    {
        unsigned long inos[] = {ino_of(l6)};
        int ports[] = {port_of(l6)};
        const char *what[] = {"v6 listener"};
        inet_table("tcp6", inos, ports, what, 1);
    }
    {
        unsigned long inos[] = {ino_of(u6)};
        int ports[] = {port_of(u6)};
        const char *what[] = {"v6 udp"};
        inet_table("udp6", inos, ports, what, 1);
    }

    // unix: an abstract listener and a socketpair.
    int ul = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    char name[64];
    int nlen = snprintf(name, sizeof name, "procnet-%d", getpid());
    memcpy(un.sun_path + 1, name, nlen);
    bind(ul, (struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path) + 1 + nlen);
    listen(ul, 1);
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    char *text = slurp("/proc/net/unix");
    char *line = strtok(text, "\n");
    printf("unix header: [%s]\n", line);
    char ufound[2][256] = {"  (absent)\n", "  (absent)\n"};
    while ((line = strtok(NULL, "\n"))) {
        unsigned refs, proto, flags, type, st;
        unsigned long ino;
        int off = 0;
        if (sscanf(line, "%*x: %x %x %x %x %x %lu%n", &refs, &proto, &flags, &type, &st, &ino,
                   &off) != 6) {
            printf("FAIL parse unix: %s\n", line);
            continue;
        }
        const char *path = line + off;
        int idx = ino == ino_of(ul) ? 0 : ino == ino_of(sv[0]) ? 1 : -1;
        if (idx < 0)
            continue;
        const char *what = idx == 0 ? "listener" : "pair";
        char expect[80];
        snprintf(expect, sizeof expect, " @%s", name);
        snprintf(ufound[idx], sizeof ufound[idx],
                 "  unix %s: proto=%u flags=%05X type=%04X st=%02X path=%s\n", what, proto, flags,
                 type, st, strcmp(path, expect) == 0 ? "@procnet-PID" : *path ? path : "none");
    }
    printf("%s%s", ufound[0], ufound[1]);

    char *dev = slurp("/proc/net/dev");
    char *self = slurp("/proc/self/net/dev");
    char *dl = strtok(dev, "\n");
    printf("dev header1: [%s]\n", dl);
    printf("dev header2: [%s]\n", strtok(NULL, "\n"));
    while ((dl = strtok(NULL, "\n"))) {
        char ifname[32];
        unsigned long long v[16];
        int got = sscanf(dl, " %31[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
                             "%llu %llu %llu %llu",
                         ifname, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
                         &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]);
        if (strcmp(ifname, "lo") == 0)
            printf("dev lo: fields=%d name column=[%.7s] errs=%llu\n", got, dl, v[2]);
    }
    printf("self/net/dev has lo: %d\n", strstr(self, "    lo: ") != NULL);
    char target[64] = "";
    ssize_t tl = readlink("/proc/net", target, sizeof target - 1);
    target[tl > 0 ? tl : 0] = 0;
    printf("/proc/net -> %s\n", target);
    struct stat st;
    printf("/proc/self/net/tcp6 is file: %d\n",
           stat("/proc/self/net/tcp6", &st) == 0 && S_ISREG(st.st_mode));

    // net-tools parse the same files.
    fflush(stdout);
    FILE *p = popen("netstat -tln 2>&1; netstat -xl 2>&1", "r");
    char nl[512];
    while (p && fgets(nl, sizeof nl, p)) {
        if (strstr(nl, ":29127 ") || strstr(nl, "@procnet-")) {
            char *pid = strstr(nl, "@procnet-");
            if (pid)
                strcpy(pid, "@procnet-PID\n");
            // netstat -x prints the inode in a column whose width varies: squeeze spaces.
            char out[512];
            int o = 0;
            for (char *q = nl; *q; q++)
                if (!(*q == ' ' && (q[1] == ' ' || q[1] == '\n')))
                    out[o++] = *q;
            out[o] = 0;
            char *ino = NULL;
            if (strstr(out, "unix")) {
                // "unix 2 [ ACC ] STREAM LISTENING INODE @procnet-PID": drop the inode.
                ino = strstr(out, "LISTENING ");
                if (ino) {
                    char *end = strchr(ino + 10, ' ');
                    if (end)
                        memmove(ino + 10, end + 1, strlen(end + 1) + 1);
                }
            }
            printf("netstat: %s", out);
        }
    }
    if (p)
        pclose(p);
    printf("done\n");
    return 0;
}
