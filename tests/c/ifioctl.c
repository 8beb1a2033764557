// Interface ioctls on sockets (netdevice(7)): SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFINDEX,
// SIOCGIFNAME, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFTXQLEN on "lo";
// ENODEV for other names; which socket families answer which; glibc's if_nametoindex and
// if_indextoname; SIOCINQ/SIOCOUTQ on TCP, UDP and unix sockets. The host has more
// interfaces than the sandbox: only "lo" results are printed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *err(int r) { return r >= 0 ? "ok" : strerror(errno); }

static struct ifreq named(const char *name) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    snprintf(r.ifr_name, sizeof r.ifr_name, "%s", name);
    return r;
}

static const char *sin_text(struct sockaddr *sa) {
    static char text[64];
    snprintf(text, sizeof text, "family=%d ", sa->sa_family);
    inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, text + strlen(text), 32);
    return text;
}

static void per_family(const char *what, int fd) {
    struct ifreq r = named("lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &r);
    printf("%s SIOCGIFFLAGS: %s flags=%#x\n", what, err(rc), rc == 0 ? r.ifr_flags & 0xffff : 0);
    r = named("lo");
    rc = ioctl(fd, SIOCGIFINDEX, &r);
    printf("%s SIOCGIFINDEX: %s index=%d\n", what, err(rc), rc == 0 ? r.ifr_ifindex : -1);
    r = named("lo");
    rc = ioctl(fd, SIOCGIFADDR, &r);
    printf("%s SIOCGIFADDR: %s\n", what, err(rc));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r = named("lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &r);
    printf("SIOCGIFFLAGS lo: %s flags=%#x name=%s\n", err(rc), r.ifr_flags & 0xffff, r.ifr_name);
    r = named("lo");
    rc = ioctl(fd, SIOCGIFINDEX, &r);
    printf("SIOCGIFINDEX lo: %s %d\n", err(rc), r.ifr_ifindex);
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 1;
    rc = ioctl(fd, SIOCGIFNAME, &r);
    printf("SIOCGIFNAME 1: %s %s\n", err(rc), r.ifr_name);
    r = named("lo");
    rc = ioctl(fd, SIOCGIFADDR, &r);
    printf("SIOCGIFADDR lo: %s %s\n", err(rc), sin_text(&r.ifr_addr));
    r = named("lo");
    rc = ioctl(fd, SIOCGIFNETMASK, &r);
    printf("SIOCGIFNETMASK lo: %s %s\n", err(rc), sin_text(&r.ifr_netmask));
    r = named("lo");
    rc = ioctl(fd, SIOCGIFBRDADDR, &r);
    printf("SIOCGIFBRDADDR lo: %s %s\n", err(rc), sin_text(&r.ifr_broadaddr));
    r = named("lo:7");
    printf("SIOCGIFADDR lo:7: %s\n", err(ioctl(fd, SIOCGIFADDR, &r)));
    r = named("lo");
    rc = ioctl(fd, SIOCGIFMTU, &r);
    printf("SIOCGIFMTU lo: %s %d\n", err(rc), r.ifr_mtu);
    r = named("lo");
    rc = ioctl(fd, SIOCGIFTXQLEN, &r);
    printf("SIOCGIFTXQLEN lo: %s %d\n", err(rc), r.ifr_qlen);
    r = named("lo");
    rc = ioctl(fd, SIOCGIFHWADDR, &r);
    unsigned char *hw = (unsigned char *)r.ifr_hwaddr.sa_data;
    printf("SIOCGIFHWADDR lo: %s family=%d %02x:%02x:%02x:%02x:%02x:%02x\n", err(rc),
           r.ifr_hwaddr.sa_family, hw[0], hw[1], hw[2], hw[3], hw[4], hw[5]);

    const char *bad[] = {"nosuchif0", "eth99", ""};
    for (int i = 0; i < 3; i++) {
        r = named(bad[i]);
        printf("'%s': flags %s", bad[i], err(ioctl(fd, SIOCGIFFLAGS, &r)));
        r = named(bad[i]);
        printf(", index %s", err(ioctl(fd, SIOCGIFINDEX, &r)));
        r = named(bad[i]);
        printf(", mtu %s", err(ioctl(fd, SIOCGIFMTU, &r)));
        r = named(bad[i]);
        printf(", addr %s\n", err(ioctl(fd, SIOCGIFADDR, &r)));
    }
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 100000;
    printf("SIOCGIFNAME 100000: %s\n", err(ioctl(fd, SIOCGIFNAME, &r)));

    // SIOCGIFCONF: the length needed, then the records (lo's only printed).
    struct ifconf ifc = {.ifc_len = 0, .ifc_buf = NULL};
    rc = ioctl(fd, SIOCGIFCONF, &ifc);
    printf("SIOCGIFCONF null: %s multiple of ifreq=%d nonzero=%d\n", err(rc),
           ifc.ifc_len % (int)sizeof(struct ifreq) == 0, ifc.ifc_len > 0);
    struct ifreq recs[64];
    ifc.ifc_len = sizeof recs;
    ifc.ifc_req = recs;
    rc = ioctl(fd, SIOCGIFCONF, &ifc);
    int n = ifc.ifc_len / (int)sizeof(struct ifreq);
    for (int i = 0; i < n; i++)
        if (strcmp(recs[i].ifr_name, "lo") == 0)
            printf("SIOCGIFCONF rec %s %s\n", recs[i].ifr_name, sin_text(&recs[i].ifr_addr));
    ifc.ifc_len = sizeof(struct ifreq) - 1;
    rc = ioctl(fd, SIOCGIFCONF, &ifc);
    printf("SIOCGIFCONF short: %s len=%d\n", err(rc), ifc.ifc_len);
    close(fd);

    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    per_family("unix", u);
    close(u);
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    per_family("inet6", s6);
    close(s6);

    unsigned lo_index = if_nametoindex("lo");
    unsigned none_index = if_nametoindex("nosuchif0");
    printf("if_nametoindex lo=%u nosuchif0=%u (%s)\n", lo_index, none_index, strerror(errno));
    char name[IF_NAMESIZE] = "";
    printf("if_indextoname 1=%s\n", if_indextoname(1, name) ? name : strerror(errno));

    // SIOCINQ/SIOCOUTQ.
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    bind(a, (struct sockaddr *)&sa, sizeof sa);
    getsockname(a, (struct sockaddr *)&sa, &sl);
    int q = -1;
    rc = ioctl(a, SIOCINQ, &q);
    printf("udp empty SIOCINQ: %s %d\n", err(rc), q);
    sendto(b, "hello", 5, 0, (struct sockaddr *)&sa, sizeof sa);
    sendto(b, "hi", 2, 0, (struct sockaddr *)&sa, sizeof sa);
    rc = ioctl(a, SIOCINQ, &q);
    printf("udp SIOCINQ: %s %d", err(rc), q);
    rc = ioctl(a, FIONREAD, &q);
    printf(" FIONREAD: %s %d", err(rc), q);
    rc = ioctl(a, SIOCOUTQ, &q);
    printf(" SIOCOUTQ: %s %d\n", err(rc), q);
    close(a);
    close(b);

    int l = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = 0;
    bind(l, (struct sockaddr *)&sa, sizeof sa);
    sl = sizeof sa;
    getsockname(l, (struct sockaddr *)&sa, &sl);
    listen(l, 1);
    rc = ioctl(l, SIOCINQ, &q);
    printf("tcp listener SIOCINQ: %s,", err(rc));
    rc = ioctl(l, SIOCOUTQ, &q);
    printf(" SIOCOUTQ: %s\n", err(rc));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&sa, sizeof sa);
    int s = accept(l, NULL, NULL);
    q = -1;
    rc = ioctl(c, SIOCOUTQ, &q);
    printf("tcp fresh SIOCOUTQ: %s %d\n", err(rc), q);
    write(c, "abcdefg", 7);
    /* Up to 10 s for loopback to deliver (at once unless the machine is very loaded). */
    for (int i = 0; i < 10000; i++) {
        ioctl(s, SIOCINQ, &q);
        if (q == 7)
            break;
        usleep(1000);
    }
    printf("tcp SIOCINQ after write: %d\n", q);
    close(c);
    close(s);
    close(l);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "abc", 3);
    write(sv[0], "defg", 4);
    rc = ioctl(sv[1], SIOCINQ, &q);
    printf("unix stream SIOCINQ: %s %d\n", err(rc), q);
    char buf[16];
    read(sv[1], buf, sizeof buf);
    rc = ioctl(sv[1], SIOCINQ, &q);
    printf("unix stream drained SIOCINQ: %s %d\n", err(rc), q);
    close(sv[0]);
    close(sv[1]);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    write(sv[0], "abc", 3);
    write(sv[0], "defg", 4);
    rc = ioctl(sv[1], SIOCINQ, &q);
    printf("unix dgram SIOCINQ: %s %d\n", err(rc), q);
    printf("done\n");
    return 0;
}
