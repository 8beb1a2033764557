// NETLINK_ROUTE sockets (netlink(7), rtnetlink(7)): port ids, RTM_GETLINK/RTM_GETADDR dumps,
// RTM_GETLINK by index and name, acks and errors, MSG_PEEK|MSG_TRUNC, and glibc's getifaddrs()
// and if_nameindex() on top. The host has more interfaces than the sandbox: only what
// concerns "lo" is printed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536];
static uint32_t seq = 100;

static const char *err(int r) { return r >= 0 ? "ok" : strerror(errno); }

static int nl_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        printf("FAIL socket: %s\n", strerror(errno));
        exit(1);
    }
    return fd;
}

// Sends a request of `type` with `flags` and a body.
static void nl_send(int fd, int type, int flags, const void *body, size_t len) {
    struct {
        struct nlmsghdr h;
        char body[256];
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(len);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = flags;
    req.h.nlmsg_seq = ++seq;
    memcpy(req.body, body, len);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n = sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    if (n != (ssize_t)req.h.nlmsg_len)
        printf("FAIL sendto: %zd %s\n", n, strerror(errno));
}

static void print_link(struct nlmsghdr *h) {
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    int len = IFLA_PAYLOAD(h);
    const char *name = NULL;
    unsigned mtu = 0, txq = 0, addrlen = 99;
    for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFLA_IFNAME)
            name = RTA_DATA(a);
        if (a->rta_type == IFLA_MTU)
            mtu = *(unsigned *)RTA_DATA(a);
        if (a->rta_type == IFLA_TXQLEN)
            txq = *(unsigned *)RTA_DATA(a);
        if (a->rta_type == IFLA_ADDRESS)
            addrlen = RTA_PAYLOAD(a);
    }
    if (!name || strcmp(name, "lo") != 0)
        return;
    printf("  link %s index=%d type=%d flags=%#x mtu=%u txqlen=%u addrlen=%u\n", name,
           ifi->ifi_index, ifi->ifi_type,
           ifi->ifi_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP), mtu, txq,
           addrlen);
}

static void print_addr(struct nlmsghdr *h) {
    struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if (ifa->ifa_index != 1)
        return;
    int len = IFA_PAYLOAD(h);
    char text[64] = "?", label[32] = "-";
    for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == IFA_ADDRESS)
            inet_ntop(ifa->ifa_family, RTA_DATA(a), text, sizeof text);
        if (a->rta_type == IFA_LABEL)
            snprintf(label, sizeof label, "%s", (char *)RTA_DATA(a));
    }
    printf("  addr family=%d %s/%d scope=%d label=%s\n", ifa->ifa_family, text, ifa->ifa_prefixlen,
           ifa->ifa_scope, label);
}

// Reads replies to the last request until NLMSG_DONE, an NLMSG_ERROR or a non-multi reply.
static void nl_read(int fd, uint32_t mypid) {
    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = {buf, sizeof buf};
        struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &m, 0);
        if (n < 0) {
            printf("FAIL recvmsg: %s\n", strerror(errno));
            return;
        }
        if (from.nl_pid != 0 || m.msg_namelen != sizeof from)
            printf("FAIL from pid=%u len=%u\n", from.nl_pid, m.msg_namelen);
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq || h->nlmsg_pid != mypid)
                printf("FAIL seq=%u pid=%u\n", h->nlmsg_seq, h->nlmsg_pid);
            switch (h->nlmsg_type) {
            case NLMSG_DONE:
                printf("  done multi=%d\n", !!(h->nlmsg_flags & NLM_F_MULTI));
                return;
            case NLMSG_ERROR: {
                struct nlmsgerr *e = NLMSG_DATA(h);
                printf("  error=%d (%s) echoed type=%d capped=%d len=%u\n", e->error,
                       e->error ? strerror(-e->error) : "ack", e->msg.nlmsg_type,
                       !!(h->nlmsg_flags & NLM_F_CAPPED), h->nlmsg_len);
                return;
            }
            case RTM_NEWLINK:
                print_link(h);
                if (!(h->nlmsg_flags & NLM_F_MULTI))
                    return;
                break;
            case RTM_NEWADDR:
                print_addr(h);
                break;
            default:
                printf("  type %d\n", h->nlmsg_type);
            }
        }
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("proto 99: %s\n", err(socket(AF_NETLINK, SOCK_RAW, 99)));
    printf("stream: %s\n", err(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE)));

    int fd = nl_open();
    int type = -1, proto = -1, dom = -1;
    socklen_t sl = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl);
    sl = sizeof proto;
    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &sl);
    sl = sizeof dom;
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &sl);
    printf("type=%d protocol=%d domain=%d\n", type, proto, dom);

    struct sockaddr_nl sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0xff, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    printf("unbound: family=%d pid=%u len=%u\n", sa.nl_family, sa.nl_pid, len);
    struct sockaddr_nl any = {.nl_family = AF_NETLINK};
    printf("bind 0: %s\n", err(bind(fd, (struct sockaddr *)&any, sizeof any)));
    len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    uint32_t mypid = sa.nl_pid;
    printf("bound pid is getpid: %d\n", mypid == (uint32_t)getpid());
    printf("bind short: %s\n", err(bind(fd, (struct sockaddr *)&any, 4)));

    int fd2 = nl_open();
    struct sockaddr_nl same = {.nl_family = AF_NETLINK, .nl_pid = mypid};
    printf("bind taken pid: %s\n", err(bind(fd2, (struct sockaddr *)&same, sizeof same)));
    // Autobind on the first send.
    struct rtgenmsg g = {.rtgen_family = AF_UNSPEC};
    nl_send(fd2, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof g);
    len = sizeof sa;
    getsockname(fd2, (struct sockaddr *)&sa, &len);
    printf("autobound second pid negative: %d\n", (int32_t)sa.nl_pid < 0);
    uint32_t pid2 = sa.nl_pid;
    printf("second socket dump:\n");
    nl_read(fd2, pid2);
    close(fd2);

    printf("RTM_GETLINK dump:\n");
    nl_send(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof g);
    nl_read(fd, mypid);

    printf("RTM_GETADDR dump unspec:\n");
    struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
    nl_send(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa);
    nl_read(fd, mypid);
    printf("RTM_GETADDR dump inet:\n");
    ifa.ifa_family = AF_INET;
    nl_send(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa);
    nl_read(fd, mypid);
    printf("RTM_GETADDR dump inet6:\n");
    ifa.ifa_family = AF_INET6;
    nl_send(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa);
    nl_read(fd, mypid);

    printf("RTM_GETLINK index 1:\n");
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
    nl_send(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi);
    nl_read(fd, mypid);
    printf("RTM_GETLINK name lo with ack:\n");
    struct {
        struct ifinfomsg ifi;
        struct rtattr a;
        char name[IFNAMSIZ];
    } byname;
    memset(&byname, 0, sizeof byname);
    byname.a.rta_type = IFLA_IFNAME;
    byname.a.rta_len = RTA_LENGTH(3);
    strcpy(byname.name, "lo");
    nl_send(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &byname, sizeof byname);
    nl_read(fd, mypid);
    nl_read(fd, mypid);
    printf("RTM_GETLINK name nosuchif0:\n");
    strcpy(byname.name, "nosuchif0");
    byname.a.rta_len = RTA_LENGTH(10);
    nl_send(fd, RTM_GETLINK, NLM_F_REQUEST, &byname, sizeof byname);
    nl_read(fd, mypid);

    printf("NLMSG_NOOP with ack:\n");
    nl_send(fd, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, NULL, 0);
    nl_read(fd, mypid);
    printf("type 200:\n");
    nl_send(fd, 200, NLM_F_REQUEST, "abcd", 4);
    nl_read(fd, mypid);
    printf("RTM_GETADDR without dump:\n");
    ifa.ifa_family = AF_INET;
    nl_send(fd, RTM_GETADDR, NLM_F_REQUEST, &ifa, sizeof ifa);
    nl_read(fd, mypid);

    printf("empty nonblock recv: %s\n", err(recv(fd, buf, sizeof buf, MSG_DONTWAIT)));
    nl_send(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi);
    ssize_t full = recv(fd, buf, 0, MSG_PEEK | MSG_TRUNC);
    ssize_t small = recv(fd, buf, 16, 0);
    printf("peek trunc len>16: %d then truncated recv=%zd, queue empty: %s\n", full > 16, small,
           err(recv(fd, buf, sizeof buf, MSG_DONTWAIT)));
    printf("listen: %s\n", err(listen(fd, 1)));
    printf("shutdown: %s\n", err(shutdown(fd, SHUT_RDWR)));
    close(fd);

    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) {
        printf("FAIL getifaddrs: %s\n", strerror(errno));
        return 1;
    }
    printf("getifaddrs lo:\n");
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0 || !i->ifa_addr)
            continue;
        char text[64] = "-", mask[64] = "-";
        int fam = i->ifa_addr->sa_family;
        if (fam == AF_INET) {
            inet_ntop(fam, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text, sizeof text);
            inet_ntop(fam, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, mask, sizeof mask);
        } else if (fam == AF_INET6) {
            inet_ntop(fam, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, text, sizeof text);
            inet_ntop(fam, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, mask, sizeof mask);
        }
        printf("  family=%d flags=%#x addr=%s mask=%s\n", fam,
               i->ifa_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING), text, mask);
    }
    freeifaddrs(ifs);

    struct if_nameindex *ni = if_nameindex();
    if (!ni) {
        printf("FAIL if_nameindex: %s\n", strerror(errno));
        return 1;
    }
    for (struct if_nameindex *p = ni; p->if_index; p++)
        if (strcmp(p->if_name, "lo") == 0)
            printf("if_nameindex lo=%u\n", p->if_index);
    if_freenameindex(ni);
    printf("done\n");
    return 0;
}
