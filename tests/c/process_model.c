// Process model: fork/wait4 status encoding, copy-on-write after fork, vfork, posix_spawn,
// execve with argv/envp, threads with a mutex, getppid, orphan reparenting to a subreaper,
// WNOHANG, waitid, process groups and sessions, ECHILD. Prints relations, never raw pids,
// so that native and sandboxed output are identical.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int counter_global = 10;

static void show_status(const char *what, int st) {
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: signaled %d\n", what, WTERMSIG(st));
    else
        printf("%s: other %#x\n", what, st);
    fflush(stdout);
}

static void fork_exit_codes(void) {
    pid_t p = fork();
    if (p == 0) _exit(7);
    int st = 0;
    pid_t w = wait4(p, &st, 0, NULL);
    printf("wait4 returned child: %d\n", w == p);
    show_status("fork exit", st);

    p = fork();
    if (p == 0) {
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    waitpid(p, &st, 0);
    show_status("fork kill", st);
}

static void cow_after_fork(void) {
    int *heap = malloc(sizeof(int));
    *heap = 5;
    pid_t p = fork();
    if (p == 0) {
        counter_global = 99;
        *heap = 77;
        _exit(counter_global + *heap == 176 ? 0 : 1);
    }
    int st;
    waitpid(p, &st, 0);
    show_status("cow child", st);
    printf("cow parent sees global=%d heap=%d\n", counter_global, *heap);
    free(heap);
}

static void getppid_in_child(void) {
    pid_t me = getpid();
    pid_t p = fork();
    if (p == 0) _exit(getppid() == me ? 0 : 1);
    int st;
    waitpid(p, &st, 0);
    show_status("getppid is parent", st);
}

static void vfork_then_exit_and_exec(void) {
    int st;
    pid_t p = vfork();
    if (p == 0) _exit(5);
    waitpid(p, &st, 0);
    show_status("vfork _exit", st);

    p = vfork();
    if (p == 0) {
        char *argv[] = {"echo", "from", "vfork+exec", NULL};
        execve("/bin/echo", argv, environ);
        _exit(127);
    }
    waitpid(p, &st, 0);
    show_status("vfork exec", st);
}

static void spawn_echo(void) {
    pid_t p;
    char *argv[] = {"echo", "from", "posix_spawn", NULL};
    int r = posix_spawn(&p, "/bin/echo", NULL, NULL, argv, environ);
    int st;
    waitpid(p, &st, 0);
    printf("posix_spawn=%d\n", r);
    show_status("posix_spawn", st);
    char *bad[] = {"nope", NULL};
    r = posix_spawn(&p, "/nonexistent/prog", NULL, NULL, bad, environ);
    if (r == 0) {
        waitpid(p, &st, 0);
        show_status("posix_spawn missing", st);
    } else {
        printf("posix_spawn missing: %s\n", strerror(r));
    }
}

static void execve_with_env(void) {
    pid_t p = fork();
    if (p == 0) {
        char *argv[] = {"sh", "-c", "echo argv1=$0 env=$GREETING; exit 4", "zero", NULL};
        char *envp[] = {"GREETING=hello-env", "PATH=/bin:/usr/bin", NULL};
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    show_status("execve sh", st);
    p = fork();
    if (p == 0) {
        char *argv[] = {"x", NULL};
        execve("/nonexistent", argv, environ);
        _exit(errno == ENOENT ? 33 : 34);
    }
    waitpid(p, &st, 0);
    show_status("execve missing", st);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long shared_count;

static void *worker(void *arg) {
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        shared_count++;
        pthread_mutex_unlock(&mu);
    }
    return (void *)(long)(syscall(SYS_gettid) != getpid());
}

static void threads_with_mutex(void) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, (void *)20000L);
    long distinct = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        distinct += (long)r;
    }
    printf("threads: count=%ld distinct_tids=%ld\n", shared_count, distinct);
}

static void *exec_thread(void *arg) {
    (void)arg;
    char *argv[] = {"echo", "exec", "from", "a", "thread", NULL};
    execve("/bin/echo", argv, environ);
    return NULL;
}

static void exec_from_thread(void) {
    pid_t p = fork();
    if (p == 0) {
        pthread_t th;
        pthread_create(&th, NULL, exec_thread, NULL);
        for (;;) pause();
    }
    int st;
    waitpid(p, &st, 0);
    show_status("exec from thread", st);
}

// A process-shared mutex and a robust mutex whose owner dies.
static void shared_and_robust_mutex(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    long *count = (long *)(m + 1);
    pthread_mutex_init(m, &a);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < 5000; i++) {
                pthread_mutex_lock(m);
                (*count)++;
                pthread_mutex_unlock(m);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 3; k++) waitpid(kids[k], NULL, 0);
    printf("shared mutex count=%ld\n", *count);
    pid_t p = fork();
    if (p == 0) {
        pthread_mutex_lock(m);
        _exit(0);
    }
    waitpid(p, NULL, 0);
    int r = pthread_mutex_lock(m);
    printf("robust lock after owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
    if (r == EOWNERDEAD) pthread_mutex_consistent(m);
    pthread_mutex_unlock(m);
}

static void *late_thread(void *arg) {
    (void)arg;
    usleep(50000);
    printf("late thread still runs\n");
    fflush(stdout);
    return NULL;
}

// The main thread leaves with pthread_exit; the process lives on until its last thread.
static void leader_exits_first(void) {
    pid_t p = fork();
    if (p == 0) {
        pthread_t th;
        pthread_create(&th, NULL, late_thread, NULL);
        pthread_exit(NULL);
    }
    int st;
    waitpid(p, &st, 0);
    show_status("leader exits first", st);
}

static void orphan_reparenting(void) {
    pid_t top = getpid();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int sub = 0;
    prctl(PR_GET_CHILD_SUBREAPER, &sub);
    printf("subreaper=%d\n", sub);
    pid_t mid = fork();
    if (mid == 0) {
        pid_t g = fork();
        if (g == 0) {
            pid_t before = getppid();
            for (int i = 0; i < 2000 && getppid() == before; i++) usleep(1000);
            _exit(getppid() == top ? 21 : 22);
        }
        _exit(0);
    }
    int st;
    waitpid(mid, &st, 0);
    show_status("orphan parent", st);
    pid_t g = wait(&st);
    printf("reaped grandchild: %d\n", g > 0 && g != mid);
    show_status("grandchild", st);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

// Without a subreaper the orphan goes to init: pid 1 in the sandbox (run sandboxed only).
static void orphan_to_init(void) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t mid = fork();
    if (mid == 0) {
        pid_t g = fork();
        if (g == 0) {
            close(fds[0]);
            pid_t before = getppid();
            for (int i = 0; i < 2000 && getppid() == before; i++) usleep(1000);
            printf("orphan ppid=%d\n", getppid());
            fflush(stdout);
            _exit(0);
        }
        _exit(0);
    }
    close(fds[1]);
    int st;
    waitpid(mid, &st, 0);
    char c;
    while (read(fds[0], &c, 1) > 0) {
    }
    while (wait(&st) > 0) {
    }
}

static void wnohang_and_waitid(void) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t p = fork();
    if (p == 0) {
        char c;
        close(fds[1]);
        read(fds[0], &c, 1);
        _exit(9);
    }
    close(fds[0]);
    int st;
    printf("wnohang running: %d\n", waitpid(p, &st, WNOHANG));
    close(fds[1]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_PID, p, &si, WEXITED | WNOWAIT);
    printf("waitid nowait: r=%d signo=%d code=%d pid_ok=%d status=%d\n", r, si.si_signo,
           si.si_code, si.si_pid == p, si.si_status);
    memset(&si, 0, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED);
    printf("waitid: r=%d code=%d pid_ok=%d status=%d\n", r, si.si_code, si.si_pid == p,
           si.si_status);
    errno = 0;
    r = waitpid(-1, &st, 0);
    printf("no children: r=%d %s\n", r, strerror(errno));
    errno = 0;
    r = waitpid(-1, &st, WNOHANG);
    printf("no children WNOHANG: r=%d %s\n", r, strerror(errno));
    errno = 0;
    r = waitid(P_ALL, 0, &si, 0);
    printf("waitid no options: r=%d %s\n", r, strerror(errno));
}

static void sessions_and_groups(void) {
    pid_t p = fork();
    if (p == 0) {
        int ok = 1;
        pid_t me = getpid();
        ok &= getpgid(0) != me;
        ok &= setsid() == me;
        ok &= getpgid(0) == me && getsid(0) == me && getpgrp() == me;
        errno = 0;
        ok &= setsid() == -1 && errno == EPERM;
        errno = 0;
        ok &= setpgid(0, 0) == -1 && errno == EPERM;
        pid_t c = fork();
        if (c == 0) {
            int k = setpgid(0, 0) == 0 && getpgid(0) == getpid() && getsid(0) == getppid();
            _exit(k ? 0 : 1);
        }
        int st;
        waitpid(c, &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(p, &st, 0);
    show_status("sessions", st);
    errno = 0;
    {
        int r = getsid(999999);
        printf("getsid(bad): %d %s\n", r, strerror(errno));
    }
    errno = 0;
    {
        int r = getpgid(999999);
        printf("getpgid(bad): %d %s\n", r, strerror(errno));
    }
    errno = 0;
    {
        int r = setpgid(-1, 0);
        printf("setpgid(-1): %d %s\n", r, strerror(errno));
    }
}

static void prctl_names(void) {
    char name[16] = {0};
    prctl(PR_SET_NAME, "renamed-proc-xyz-long");
    prctl(PR_GET_NAME, name);
    printf("name=%s\n", name);
    printf("dumpable=%d\n", prctl(PR_GET_DUMPABLE));
    int sig = -1;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_GET_PDEATHSIG, &sig);
    printf("pdeathsig=%d\n", sig);
    prctl(PR_SET_PDEATHSIG, 0);
    errno = 0;
    {
        int r = prctl(0x7fff);
        printf("prctl(bad): %d %s\n", r, strerror(errno));
    }
}

// The FP control state (SSE rounding in MXCSR, x87 rounding in the control word) is
// callee-saved across the fork() call, so the child must see its parent's.
static void fpu_control_after_fork(void) {
    unsigned mxcsr, m;
    unsigned short cw, c;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    unsigned up = (mxcsr & ~0x6000u) | 0x4000u;
    unsigned short down = (unsigned short)((cw & ~0x0c00u) | 0x0400u);
    __asm__ volatile("ldmxcsr %0" : : "m"(up));
    __asm__ volatile("fldcw %0" : : "m"(down));
    pid_t child = fork();
    if (child == 0) {
        __asm__ volatile("stmxcsr %0" : "=m"(m));
        __asm__ volatile("fnstcw %0" : "=m"(c));
        printf("child: sse rounding %u, x87 rounding %u\n", (m >> 13) & 3, (c >> 10) & 3u);
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    __asm__ volatile("fnstcw %0" : "=m"(c));
    printf("parent: sse rounding %u, x87 rounding %u\n", (m >> 13) & 3, (c >> 10) & 3u);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(f) if (!only || strcmp(only, #f) == 0) { printf("== %s\n", #f); fflush(stdout); f(); fflush(stdout); }
    RUN(fork_exit_codes);
    RUN(cow_after_fork);
    RUN(getppid_in_child);
    RUN(vfork_then_exit_and_exec);
    RUN(spawn_echo);
    RUN(execve_with_env);
    RUN(threads_with_mutex);
    RUN(exec_from_thread);
    RUN(shared_and_robust_mutex);
    RUN(leader_exits_first);
    RUN(orphan_reparenting);
    RUN(wnohang_and_waitid);
    RUN(sessions_and_groups);
    RUN(prctl_names);
    RUN(fpu_control_after_fork);
    if (only && strcmp(only, "orphan_to_init") == 0) orphan_to_init();
    return 0;
}
