// seccomp(2) and prctl(PR_SET_SECCOMP) compatibility: filter checking, actions (ERRNO, TRAP
// with its siginfo, KILL_PROCESS, KILL_THREAD, LOG, ALLOW), strict mode, stacking, argument
// matching, TSYNC, inheritance over fork and execve, /proc/self/status. Each case runs in a
// forked child so that its filters die with it. Prints one line per result.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *self_path;

static int sys_seccomp(unsigned op, unsigned flags, void *args) {
    return (int)syscall(SYS_seccomp, op, flags, args);
}

static const char *ename(int e) {
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOMSG: return "ENOMSG";
    case ESRCH: return "ESRCH";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

// Result of a call: "0" / a value, or the errno's name.
static void report(const char *what, long r) {
    if (r < 0)
        printf("%s=%s\n", what, ename(errno));
    else
        printf("%s=%ld\n", what, r);
}

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ON_NR(nr, ret) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (ret))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

static long install(struct sock_filter *f, unsigned short n, unsigned flags) {
    struct sock_fprog p = {.len = n, .filter = f};
    return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &p);
}

// A filter answering `ret` for syscall `nr` and ALLOW for the rest.
static long install_on(long nr, unsigned ret) {
    struct sock_filter f[] = {LOAD_NR, ON_NR(nr, ret), RET(SECCOMP_RET_ALLOW)};
    return install(f, 4, 0);
}

static void status_lines(const char *tag) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) {
        printf("%s status: cannot open\n", tag);
        return;
    }
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Seccomp", 7) == 0 || strncmp(line, "NoNewPrivs", 10) == 0)
            printf("%s %s", tag, line);
    fclose(f);
}

// Waits for `pid` and prints how it ended.
static void reap(const char *tag, pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
        printf("%s: waitpid failed\n", tag);
    } else if (WIFSIGNALED(st)) {
        printf("%s: signaled %d\n", tag, WTERMSIG(st));
    } else {
        printf("%s: exited %d\n", tag, WEXITSTATUS(st));
    }
}

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    printf("sigsys: signo=%d code=%d errno=%d syscall=%d arch_ok=%d call_addr_set=%d\n", sig,
           si->si_code, si->si_errno, si->si_syscall, si->si_arch == AUDIT_ARCH_X86_64,
           si->si_call_addr != NULL);
}

static void case_checker(void) {
    struct sock_filter ok[] = {RET(SECCOMP_RET_ALLOW)};
    struct sock_filter jump_out[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0), RET(SECCOMP_RET_ALLOW)};
    struct sock_filter bad_load[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), RET(SECCOMP_RET_ALLOW)};
    struct sock_filter far_load[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), RET(SECCOMP_RET_ALLOW)};
    struct sock_filter byte_load[] = {BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), RET(SECCOMP_RET_ALLOW)};
    struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_IMM, 0)};
    struct sock_filter mem_unset[] = {BPF_STMT(BPF_LD | BPF_MEM, 0), RET(SECCOMP_RET_ALLOW)};
    report("empty", install(ok, 0, 0));
    report("jump_out", install(jump_out, 2, 0));
    report("bad_load", install(bad_load, 2, 0));
    report("far_load", install(far_load, 2, 0));
    report("byte_load", install(byte_load, 2, 0));
    report("no_ret", install(no_ret, 1, 0));
    report("mem_unset", install(mem_unset, 2, 0));
    report("bad_flag", install(ok, 1, 1u << 30));
    report("bad_op", sys_seccomp(99, 0, NULL));
    report("strict_flags", sys_seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL));
    report("efault", sys_seccomp(SECCOMP_SET_MODE_FILTER, 0, (void *)8));
    unsigned acts[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
                       SECCOMP_RET_ERRNO, SECCOMP_RET_TRACE, SECCOMP_RET_LOG,
                       SECCOMP_RET_ALLOW, SECCOMP_RET_USER_NOTIF, 0x00010000};
    for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "avail_%08x", acts[i]);
        report(name, sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]));
    }
    report("get_seccomp", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void case_no_nnp(void) {
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0)
            _exit(9);
        struct sock_filter ok[] = {RET(SECCOMP_RET_ALLOW)};
        report("no_nnp", install(ok, 1, 0));
        fflush(stdout);
        _exit(0);
    }
    reap("no_nnp child", pid);
}

static void case_errno_fork_exec(void) {
    pid_t pid = fork();
    if (pid == 0) {
        report("install", install_on(SYS_getpid, SECCOMP_RET_ERRNO | ENOMSG));
        report("getpid", syscall(SYS_getpid));
        report("getppid", syscall(SYS_getppid) > 0 ? 1 : -1);
        report("get_seccomp", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
        report("strict_after_filter", sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL));
        status_lines("errno child");
        fflush(stdout);
        pid_t g = fork();
        if (g == 0) {
            report("grandchild getpid", syscall(SYS_getpid));
            fflush(stdout);
            _exit(0);
        }
        reap("grandchild", g);
        fflush(stdout);
        pid_t e = fork();
        if (e == 0) {
            char *argv[] = {(char *)self_path, "exec-check", NULL};
            execv(self_path, argv);
            _exit(99);
        }
        reap("exec child", e);
        fflush(stdout);
        _exit(0);
    }
    reap("errno child", pid);
}

static void case_trap(void) {
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
        install_on(SYS_getppid, SECCOMP_RET_TRAP | 0x55);
        long r = syscall(SYS_getppid);
        printf("after trap: ret=%ld\n", r);
        fflush(stdout);
        _exit(0);
    }
    reap("trap child", pid);
}

static void case_kill(unsigned action, const char *tag) {
    pid_t pid = fork();
    if (pid == 0) {
        install_on(SYS_getppid, action);
        syscall(SYS_getppid);
        printf("%s: survived\n", tag);
        fflush(stdout);
        _exit(0);
    }
    reap(tag, pid);
}

// A blocked, then an ignored SIGSYS: TRAP still delivers it with the default action.
static void case_trap_blocked(void) {
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGSYS);
        sigprocmask(SIG_BLOCK, &set, NULL);
        install_on(SYS_getppid, SECCOMP_RET_TRAP);
        syscall(SYS_getppid);
        printf("trap blocked: survived\n");
        fflush(stdout);
        _exit(0);
    }
    reap("trap blocked", pid);
}

static void case_strict(void) {
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0)
            _exit(8);
        static const char msg[] = "in strict mode\n";
        write(1, msg, sizeof msg - 1);
        syscall(SYS_getpid);
        write(1, "survived\n", 9);
        syscall(SYS_exit, 0);
    }
    reap("strict getpid", pid);
    pid = fork();
    if (pid == 0) {
        if (sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, NULL) != 0)
            _exit(8);
        syscall(SYS_exit, 3);
    }
    reap("strict exit", pid);
}

static void case_stacking(void) {
    pid_t pid = fork();
    if (pid == 0) {
        struct sock_filter allow[] = {RET(SECCOMP_RET_ALLOW)};
        struct sock_filter log[] = {RET(SECCOMP_RET_LOG)};
        struct sock_fprog p = {.len = 1, .filter = allow};
        report("prctl filter", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0));
        install_on(SYS_getuid, SECCOMP_RET_ERRNO | 7);
        install_on(SYS_getuid, SECCOMP_RET_ERRNO | 9);
        install(log, 1, SECCOMP_FILTER_FLAG_LOG);
        install_on(SYS_getgid, SECCOMP_RET_ERRNO | 11);
        install_on(SYS_getgid, SECCOMP_RET_TRAP | 1);
        install_on(SYS_getgid, SECCOMP_RET_ERRNO | 12);
        install_on(SYS_getgid, SECCOMP_RET_TRACE);
        install_on(SYS_gettid, SECCOMP_RET_TRACE);
        // ERRNO 0 is a success that returns 0.
        install_on(SYS_getegid, SECCOMP_RET_ERRNO | 0);
        // args[0] == 0 (low word) of dup: EPERM.
        struct sock_filter arg[] = {
            LOAD_NR,
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 3),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
            RET(SECCOMP_RET_ERRNO | EPERM),
            RET(SECCOMP_RET_ALLOW),
        };
        report("arg filter", install(arg, 6, SECCOMP_FILTER_FLAG_SPEC_ALLOW));
        report("getuid newest of equals", syscall(SYS_getuid));
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
        report("getgid trap wins", syscall(SYS_getgid) == SYS_getgid ? 0 : -1);
        report("gettid trace", syscall(SYS_gettid));
        report("getegid errno0", syscall(SYS_getegid));
        report("dup(0)", syscall(SYS_dup, 0));
        report("dup(1)", syscall(SYS_dup, 1) > 2 ? 0 : -1);
        status_lines("stacked");
        fflush(stdout);
        _exit(0);
    }
    reap("stacking child", pid);
}

static int tsync_pipe[2];
static int tsync_back[2];

static void *tsync_thread(void *arg) {
    (void)arg;
    char c;
    read(tsync_pipe[0], &c, 1);
    long r = syscall(SYS_getuid);
    int e = r < 0 ? errno : 0;
    write(tsync_back[1], &e, sizeof e);
    return NULL;
}

static void case_tsync(void) {
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t th;
        if (pipe(tsync_pipe) || pipe(tsync_back) || pthread_create(&th, NULL, tsync_thread, NULL))
            _exit(7);
        struct sock_filter f[] = {LOAD_NR, ON_NR(SYS_getuid, SECCOMP_RET_ERRNO | EACCES),
                                  RET(SECCOMP_RET_ALLOW)};
        report("tsync", install(f, 4, SECCOMP_FILTER_FLAG_TSYNC));
        write(tsync_pipe[1], "x", 1);
        int e = -1;
        read(tsync_back[0], &e, sizeof e);
        printf("tsync thread getuid=%s\n", ename(e));
        pthread_join(th, NULL);
        fflush(stdout);
        _exit(0);
    }
    reap("tsync child", pid);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    self_path = argv[0];
    if (argc > 1 && strcmp(argv[1], "exec-check") == 0) {
        report("after exec getpid", syscall(SYS_getpid));
        report("after exec get_seccomp", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
        return 0;
    }
    case_no_nnp();
    report("nnp", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    case_checker();
    case_errno_fork_exec();
    case_trap();
    case_kill(SECCOMP_RET_KILL_PROCESS, "kill process");
    case_kill(SECCOMP_RET_KILL_THREAD, "kill thread");
    case_kill(0x00010000, "unknown action");
    case_trap_blocked();
    case_strict();
    case_stacking();
    case_tsync();
    status_lines("parent");
    return 0;
}
