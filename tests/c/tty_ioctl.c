/* Terminal ioctls on a pty given as stdin (tty_ioctl(4), credentials(7) "controlling
 * terminal"): the caller leads a session whose controlling terminal is fd 0 (natively it makes
 * it so with setsid + TIOCSCTTY; in the sandbox init already is), then checks isatty/ttyname,
 * termios and window-size round trips, FIONREAD, TIOCGPGRP/TIOCSPGRP/TIOCGSID with their error
 * cases, /dev/tty, a child in a new session (no controlling terminal: ENOTTY, EPERM, ENXIO),
 * and TIOCNOTTY. Prints one line per check; exits 0 when all held. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int failed;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    if (!ok) failed = 1;
}

static int err_of(int r) { return r < 0 ? errno : 0; }

int main(void) {
    signal(SIGTTOU, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (!isatty(0)) {
        printf("stdin is not a terminal\n");
        return 2;
    }
    if (getsid(0) != getpid()) setsid();
    check("TIOCSCTTY as session leader", ioctl(0, TIOCSCTTY, 0) == 0);

    const char *name = ttyname(0);
    check("ttyname is /dev/pts/N", name && strncmp(name, "/dev/pts/", 9) == 0);

    struct termios t, t2;
    check("TCGETS", tcgetattr(0, &t) == 0);
    t2 = t;
    t2.c_lflag ^= ECHO;
    check("TCSETS", tcsetattr(0, TCSANOW, &t2) == 0);
    struct termios t3;
    tcgetattr(0, &t3);
    check("TCSETS took effect", (t3.c_lflag & ECHO) == (t2.c_lflag & ECHO));
    check("TCSETSF restores", tcsetattr(0, TCSAFLUSH, &t) == 0);
    check("TCFLSH", tcflush(0, TCIFLUSH) == 0);

    struct winsize ws = {.ws_row = 27, .ws_col = 91}, ws2 = {0};
    check("TIOCSWINSZ", ioctl(0, TIOCSWINSZ, &ws) == 0);
    check("TIOCGWINSZ", ioctl(0, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 27 && ws2.ws_col == 91);
    int avail = -1;
    check("FIONREAD", ioctl(0, FIONREAD, &avail) == 0 && avail == 0);

    pid_t pg = -1, sid = -1;
    check("TIOCGPGRP is our group", ioctl(0, TIOCGPGRP, &pg) == 0 && pg == getpgrp());
    check("TIOCGSID is our session", ioctl(0, TIOCGSID, &sid) == 0 && sid == getsid(0));
    pid_t bad = -3;
    check("TIOCSPGRP negative: EINVAL", err_of(ioctl(0, TIOCSPGRP, &bad)) == EINVAL);
    bad = 999999;
    check("TIOCSPGRP no such group: ESRCH", err_of(ioctl(0, TIOCSPGRP, &bad)) == ESRCH);

    int fd = open("/dev/tty", O_RDWR);
    check("open /dev/tty", fd >= 0 && isatty(fd));
    if (fd >= 0) close(fd);

    int p[2];
    if (pipe(p) != 0) return 3;
    pid_t child = fork();
    if (child == 0) {
        setpgid(0, 0);
        char c;
        read(p[0], &c, 1); /* wait for the parent's checks */
        _exit(0);
    }
    setpgid(child, child);
    check("TIOCSPGRP to the child's group", tcsetpgrp(0, child) == 0);
    check("TIOCGPGRP sees it", tcgetpgrp(0) == child);
    check("TIOCSPGRP back to ours", tcsetpgrp(0, getpgrp()) == 0);
    write(p[1], "x", 1);
    waitpid(child, NULL, 0);

    child = fork();
    if (child == 0) {
        int ok = setsid() > 0;
        pid_t g;
        ok = ok && err_of(ioctl(0, TIOCGPGRP, &g)) == ENOTTY;
        ok = ok && err_of(ioctl(0, TIOCSCTTY, 0)) == EPERM;
        ok = ok && open("/dev/tty", O_RDWR) < 0 && errno == ENXIO;
        ok = ok && isatty(0);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(child, &st, 0);
    check("new session: ENOTTY, EPERM, ENXIO", WIFEXITED(st) && WEXITSTATUS(st) == 0);

    check("TIOCNOTTY by the leader", ioctl(0, TIOCNOTTY) == 0);
    check("then TIOCGPGRP: ENOTTY", err_of(ioctl(0, TIOCGPGRP, &pg)) == ENOTTY);
    check("then /dev/tty: ENXIO", open("/dev/tty", O_RDWR) < 0 && errno == ENXIO);
    return failed;
}
