// Pseudo-terminals through /dev/ptmx (pty(7)): posix_openpt/grantpt/unlockpt/ptsname, a child
// that takes the replica as its controlling terminal and answers what it reads, echo and
// canonical editing, ^C (SIGINT), VEOF, TIOCSWINSZ (SIGWINCH), raw mode and hangup.
// Every step waits for the child's answer (a line ending in '!'), so the output does not
// depend on timing. Only the parent prints.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t got_int, got_winch, got_hup;
static void on_sig(int s) {
    if (s == SIGINT) got_int = 1;
    if (s == SIGWINCH) got_winch = 1;
    if (s == SIGHUP) got_hup = 1;
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...) {
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (write(fd, b, n) != n) _exit(90);
}

static const char *ename(int e) {
    switch (e) {
    case EIO: return "EIO";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case ENOTTY: return "ENOTTY";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    default: return "other";
    }
}

static void esc(char *out, const char *in, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == '\r') out += sprintf(out, "\\r");
        else if (c == '\n') out += sprintf(out, "\\n");
        else if (isprint(c)) *out++ = c;
        else out += sprintf(out, "\\x%02x", c);
    }
    *out = 0;
}

// The child: a session leader on the replica; answers every read with a line ending in '!'.
// Its signals stay blocked except while it waits in ppoll(2), so a signal always ends a wait
// (EINTR) wherever it arrives.
static void child(const char *name, int report) {
    sigset_t block, empty;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGWINCH);
    sigaddset(&block, SIGHUP);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, 0);
    setsid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGINT, &sa, 0);
    sigaction(SIGWINCH, &sa, 0);
    sigaction(SIGHUP, &sa, 0);
    int fd = open(name, O_RDWR);
    if (fd < 0) _exit(91);
    const char *tn = ttyname(fd);
    int ctty = open("/dev/tty", O_RDWR);
    say(fd, "ready sid=%d pgrp=%d ttyname=%d devtty=%d!\n", tcgetsid(fd) == getpid(),
        tcgetpgrp(fd) == getpid(), tn && strcmp(tn, name) == 0, ctty >= 0);
    if (ctty >= 0) close(ctty);
    struct termios saved;
    tcgetattr(fd, &saved);
    char buf[256], e[1024];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = ppoll(&p, 1, 0, &empty);
        if (r < 0 && errno == EINTR) {
            struct winsize ws = {0};
            ioctl(fd, TIOCGWINSZ, &ws);
            say(fd, "intr int=%d winch=%d size=%dx%d!\n", got_int, got_winch, ws.ws_row, ws.ws_col);
            got_int = got_winch = 0;
            continue;
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            say(report, "read error %s\n", ename(errno));
            break;
        }
        if (n == 0) {
            say(fd, "eof!\n");
            continue;
        }
        if (n == 4 && memcmp(buf, "raw\n", 4) == 0) {
            struct termios t = saved;
            cfmakeraw(&t);
            tcsetattr(fd, TCSANOW, &t);
            say(fd, "raw!\n");
            // Collect 4 bytes however they arrive (VMIN=1).
            int got = 0;
            while (got < 4) {
                ssize_t k = read(fd, buf + got, 4 - got);
                if (k <= 0) _exit(92);
                got += k;
            }
            esc(e, buf, 4);
            tcsetattr(fd, TCSANOW, &saved);
            say(fd, "raw got:%s cooked!\n", e);
            continue;
        }
        if (n == 3 && memcmp(buf, "bg\n", 3) == 0) {
            // A process of a background group that reads its terminal gets SIGTTIN (stops).
            pid_t gc = fork();
            if (gc == 0) {
                setpgid(0, 0);
                char c;
                ssize_t k = read(fd, &c, 1);
                _exit(k < 0 && errno == EIO ? 3 : 4);
            }
            int st;
            waitpid(gc, &st, WUNTRACED);
            int stopped = WIFSTOPPED(st) ? WSTOPSIG(st) : -1;
            kill(gc, SIGKILL);
            waitpid(gc, &st, 0);
            say(fd, "bg read stopped by SIGTTIN=%d!\n", stopped == SIGTTIN);
            continue;
        }
        if (n == 5 && memcmp(buf, "hang\n", 5) == 0) {
            say(fd, "waiting!\n");
            // The parent now closes the master: the replica is hung up (readable, reads
            // give 0 or EIO) and SIGHUP comes.
            alarm(10); // a safety net only
            while (ppoll(&p, 1, 0, &empty) < 0 && errno == EINTR) {
            }
            errno = 0;
            ssize_t rr = read(fd, buf, sizeof buf);
            int rerr = errno;
            while (!got_hup) sigsuspend(&empty);
            errno = 0;
            ssize_t w = write(fd, "x", 1);
            say(report, "after hangup read=%s hup=%d write=%s\n",
                rr == 0 || (rr < 0 && rerr == EIO) ? "eof-or-eio" : "data", got_hup,
                w < 0 ? ename(errno) : "ok");
            _exit(0);
        }
        esc(e, buf, n);
        say(fd, "got:%s!\n", e);
    }
    _exit(0);
}

// Reads the master until the child's answer (a '!' followed by a newline) and prints it all.
static void expect(int m, const char *what) {
    char acc[4096], e[16384];
    int len = 0;
    for (;;) {
        ssize_t n = read(m, acc + len, sizeof acc - 1 - len);
        if (n <= 0) {
            printf("%s: read %zd %s\n", what, n, n < 0 ? ename(errno) : "");
            return;
        }
        len += n;
        acc[len] = 0;
        if ((len >= 2 && memcmp(acc + len - 2, "!\n", 2) == 0) ||
            (len >= 3 && memcmp(acc + len - 3, "!\r\n", 3) == 0))
            break;
    }
    esc(e, acc, len);
    printf("%s: %s\n", what, e);
}

static void put(int m, const char *s, int n) {
    if (write(m, s, n) != n) {
        printf("write failed %s\n", ename(errno));
        exit(1);
    }
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    printf("posix_openpt ok=%d isatty=%d\n", m >= 0, isatty(m));
    if (m < 0) return 1;
    unsigned int ptn = 0;
    printf("TIOCGPTN=%d\n", ioctl(m, TIOCGPTN, &ptn));
    char name[64];
    snprintf(name, sizeof name, "%s", ptsname(m));
    char want[64];
    snprintf(want, sizeof want, "/dev/pts/%u", ptn);
    int digits = strncmp(name, "/dev/pts/", 9) == 0 && name[9] != 0;
    for (char *p = name + 9; digits && *p; p++) digits = isdigit((unsigned char)*p) != 0;
    printf("ptsname matches /dev/pts/[0-9]+: %d, agrees with TIOCGPTN: %d\n", digits,
           strcmp(name, want) == 0);
    int fd = open(name, O_RDWR | O_NOCTTY);
    printf("open while locked: %s\n", fd < 0 ? ename(errno) : "opened");
    if (fd >= 0) close(fd);
    printf("grantpt=%d unlockpt=%d\n", grantpt(m), unlockpt(m));
    struct stat st;
    int sr = stat(name, &st);
    printf("stat=%d chr=%d major136=%d owner=%d\n", sr, S_ISCHR(st.st_mode),
           major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143, st.st_uid == getuid());
    int cr = chmod(name, 0600);
    int or = chown(name, getuid(), getgid());
    struct stat st2;
    stat(name, &st2);
    printf("chmod=%d chown=%d mode now=%o\n", cr, or, st2.st_mode & 07777);
    printf("minor matches=%d\n", (unsigned)(minor(st.st_rdev) + (major(st.st_rdev) - 136) * 256) == ptn);
    struct stat pst;
    printf("/dev/ptmx is 5:2: %d\n", stat("/dev/ptmx", &pst) == 0 && S_ISCHR(pst.st_mode) &&
                                        major(pst.st_rdev) == 5 && minor(pst.st_rdev) == 2);
    struct termios t;
    int tr = tcgetattr(m, &t);
    printf("master tcgetattr=%d icanon=%d echo=%d onlcr=%d verase=%d\n", tr,
           (t.c_lflag & ICANON) != 0, (t.c_lflag & ECHO) != 0, (t.c_oflag & ONLCR) != 0,
           t.c_cc[VERASE]);
    pid_t pg;
    pg = -1;
    int gr = ioctl(m, TIOCGPGRP, &pg);
    printf("TIOCGPGRP before any session: %s\n", gr < 0 ? ename(errno) : (pg == 0 ? "0" : "nonzero"));

    int rep[2];
    if (pipe(rep) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(m);
        close(rep[0]);
        child(name, rep[1]);
    }
    close(rep[1]);
    expect(m, "start");
    gr = ioctl(m, TIOCGPGRP, &pg);
    printf("master TIOCGPGRP is the child: %d\n", gr == 0 && pg == pid);
    pid_t sid = 0;
    gr = ioctl(m, TIOCGSID, &sid);
    printf("master TIOCGSID is the child: %d\n", gr == 0 && sid == pid);
    put(m, "hello\n", 6);
    expect(m, "hello");
    put(m, "cr\r", 3);
    expect(m, "icrnl");
    put(m, "helx\x7flo\n", 8);
    expect(m, "erase");
    put(m, "junk\x15ok\n", 8);
    expect(m, "kill");
    put(m, "ab\x04", 3);
    expect(m, "veof-data");
    put(m, "\x04", 1);
    expect(m, "veof-empty");
    // Linux sends the signal before it flushes the output and echoes "^C", so the child's
    // answer could be flushed or come first: without echo and with NOFLSH it cannot.
    struct termios quiet;
    tcgetattr(m, &quiet);
    struct termios loud = quiet;
    quiet.c_lflag = (quiet.c_lflag & ~ECHO) | NOFLSH;
    tcsetattr(m, TCSANOW, &quiet);
    put(m, "\x03", 1);
    expect(m, "sigint");
    tcsetattr(m, TCSANOW, &loud);
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    printf("TIOCSWINSZ=%d\n", ioctl(m, TIOCSWINSZ, &ws));
    expect(m, "sigwinch");
    struct winsize back = {0};
    gr = ioctl(m, TIOCGWINSZ, &back);
    printf("TIOCGWINSZ=%d %dx%d\n", gr, back.ws_row, back.ws_col);
    put(m, "raw\n", 4);
    expect(m, "raw-on");
    put(m, "\x03\r\x7fz", 4);
    expect(m, "raw-bytes");
    int avail = -1;
    gr = ioctl(m, FIONREAD, &avail);
    printf("FIONREAD on idle master=%d avail=%d\n", gr, avail);
    struct pollfd pfd = {.fd = m, .events = POLLIN | POLLOUT};
    gr = poll(&pfd, 1, 0);
    printf("poll master=%d revents=%#x\n", gr, pfd.revents);
    gr = tcflush(m, TCIFLUSH);
    printf("TCFLSH=%d TCXONC=%d\n", gr, tcflow(m, TCOON));
    put(m, "bg\n", 3);
    expect(m, "background");
    put(m, "hang\n", 5);
    expect(m, "hang");
    close(m);
    char r[256];
    ssize_t n = read(rep[0], r, sizeof r - 1);
    if (n > 0) {
        r[n] = 0;
        printf("child: %s", r);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));

    // Closing every replica makes master reads EIO; TIOCGPTPEER opens the replica.
    m = posix_openpt(O_RDWR | O_NOCTTY);
    unlockpt(m);
    int peer = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    printf("TIOCGPTPEER ok=%d isatty=%d\n", peer >= 0, isatty(peer));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = m};
    epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev);
    if (write(peer, "out\n", 4) != 4) return 1;
    gr = epoll_wait(ep, &ev, 1, -1);
    printf("epoll_wait=%d in=%d\n", gr, (ev.events & EPOLLIN) != 0);
    close(ep);
    char b[32];
    n = read(m, b, sizeof b);
    char e[128];
    esc(e, b, n > 0 ? n : 0);
    printf("master read=%s\n", e);
    int one = 1;
    gr = ioctl(m, TIOCPKT, &one);
    if (write(peer, "pkt\n", 4) != 4) return 1;
    n = read(m, b, sizeof b);
    esc(e, b, n > 0 ? n : 0);
    printf("TIOCPKT=%d packet read=%s\n", gr, e);
    tcflush(peer, TCIFLUSH);
    n = read(m, b, sizeof b);
    esc(e, b, n > 0 ? n : 0);
    printf("packet status after replica TCIFLUSH=%s\n", e);
    close(peer);
    n = read(m, b, sizeof b);
    printf("master read after replica close=%zd %s\n", n, n < 0 ? ename(errno) : "");
    pfd.fd = m;
    pfd.events = POLLIN;
    printf("poll hup=%d\n", poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP) != 0);
    close(m);
    return 0;
}
