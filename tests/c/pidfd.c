/* pidfds (pidfd_open(2), pidfd_send_signal(2), pidfd_getfd(2), CLONE_PIDFD with clone(2) and
 * clone3(2), waitid(P_PIDFD), poll on a pidfd): prints results, errors included, so native and
 * sandboxed runs can be compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

static const char *err(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ESRCH: return "ESRCH";
    case EAGAIN: return "EAGAIN";
    case EPERM: return "EPERM";
    case ECHILD: return "ECHILD";
    default: return strerror(errno);
    }
}

static int pidfd_open(pid_t pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
static long pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
    return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static long pidfd_getfd(int fd, int target, unsigned flags) {
    return syscall(SYS_pidfd_getfd, fd, target, flags);
}

/* poll with a bounded wait: 1 if readable. */
static int readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    return r == 1 && (p.revents & POLLIN) != 0;
}

static pid_t sleeper(void) {
    pid_t pid = fork();
    if (pid == 0) {
        for (;;) pause();
    }
    return pid;
}

static void wait_pidfd(const char *what, int fd, pid_t pid) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    long r = waitid(P_PIDFD, fd, &si, WEXITED);
    printf("%s waitid=%s pid_ok=%d code=%d status=%d\n", what, err(r), si.si_pid == pid,
           si.si_code, si.si_status);
}

static void open_and_signal(void) {
    printf("open bad flags=%s\n", err(pidfd_open(getpid(), 1)));
    printf("open pid 0=%s\n", err(pidfd_open(0, 0)));
    printf("open pid -1=%s\n", err(pidfd_open(-1, 0)));

    pid_t pid = sleeper();
    int fd = pidfd_open(pid, 0);
    printf("open child=%s cloexec=%d\n", err(fd), (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    char b[8];
    printf("read=%s\n", err(read(fd, b, sizeof b)));
    printf("readable while alive=%d\n", readable(fd, 0));
    printf("send bad flags=%s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 99)));
    printf("send bad signal=%s\n", err(pidfd_send_signal(fd, 65, NULL, 0)));
    printf("send to stdin=%s\n", err(pidfd_send_signal(0, SIGTERM, NULL, 0)));
    printf("send to bad fd=%s\n", err(pidfd_send_signal(999, SIGTERM, NULL, 0)));
    printf("send probe=%s\n", err(pidfd_send_signal(fd, 0, NULL, 0)));
    siginfo_t forged;
    memset(&forged, 0, sizeof forged);
    forged.si_signo = SIGTERM;
    forged.si_code = SI_USER;
    printf("send forged SI_USER=%s\n", err(pidfd_send_signal(fd, SIGTERM, &forged, 0)));
    forged.si_signo = SIGUSR1;
    forged.si_code = SI_QUEUE;
    printf("send info signo mismatch=%s\n", err(pidfd_send_signal(fd, SIGTERM, &forged, 0)));

    int nb = pidfd_open(pid, O_NONBLOCK); /* PIDFD_NONBLOCK */
    siginfo_t si;
    printf("nonblock waitid alive=%s\n", err(waitid(P_PIDFD, nb, &si, WEXITED)));
    close(nb);

    printf("send SIGTERM=%s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 0)));
    printf("readable after death=%d\n", readable(fd, 5000));
    printf("zombie probe=%s\n", err(pidfd_send_signal(fd, 0, NULL, 0)));
    int zfd = pidfd_open(pid, 0);
    printf("open zombie=%s\n", err(zfd));
    close(zfd);
    wait_pidfd("killed", fd, pid);
    printf("send after reap=%s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 0)));
    printf("waitid after reap=%s\n", err(waitid(P_PIDFD, fd, &si, WEXITED)));
    printf("open reaped=%s\n", err(pidfd_open(pid, 0)));
    printf("waitid on stdin=%s\n", err(waitid(P_PIDFD, 0, &si, WEXITED)));
    close(fd);
}

static void clone_pidfd(void) {
    int fd = -1;
    long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &fd, 0, 0);
    if (pid == 0) _exit(7);
    printf("clone CLONE_PIDFD=%s fd_set=%d cloexec=%d\n", err(pid), fd >= 0,
           (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    printf("clone pidfd readable=%d\n", readable(fd, 5000));
    wait_pidfd("clone", fd, (pid_t)pid);
    close(fd);

    printf("clone PIDFD with PARENT_SETTID=%s\n",
           err(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &fd, 0, 0)));
    printf("clone PIDFD bad pointer=%s\n",
           err(syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, (void *)8, 0, 0)));

    struct {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args;
    memset(&args, 0, sizeof args);
    fd = -1;
    args.flags = CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&fd;
    args.exit_signal = SIGCHLD;
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(9);
    printf("clone3 CLONE_PIDFD=%s fd_set=%d\n", err(pid), fd >= 0);
    wait_pidfd("clone3", fd, (pid_t)pid);
    close(fd);
}

static void getfd(void) {
    int self = pidfd_open(getpid(), 0);
    int p[2];
    if (pipe(p) != 0) return;
    printf("getfd bad flags=%s\n", err(pidfd_getfd(self, p[1], 1)));
    printf("getfd bad target=%s\n", err(pidfd_getfd(self, 999, 0)));
    printf("getfd on stdin=%s\n", err(pidfd_getfd(0, p[1], 0)));
    int dup = (int)pidfd_getfd(self, p[1], 0);
    printf("getfd self=%s cloexec=%d\n", err(dup), (fcntl(dup, F_GETFD) & FD_CLOEXEC) != 0);
    if (dup >= 0) {
        char c = 0;
        ssize_t w = write(dup, "x", 1);
        ssize_t r = read(p[0], &c, 1);
        printf("getfd write=%zd read=%zd byte=%c\n", w, r, c);
    }
    close(self);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    open_and_signal();
    clone_pidfd();
    getfd();
    printf("done\n");
    return 0;
}
