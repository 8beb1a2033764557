/* Process-model micro-benchmarks for the side-by-side runner: `procbench MODE N` runs N
 * iterations of one operation and exits 0 (N = 0 measures start-up alone).
 *   fork      fork + child _exit + wait4
 *   exec      fork + child execve("/bin/true") + wait4
 *   pipe      1-byte ping-pong between two processes over two pipes (N round trips)
 *   futex     ping-pong between two threads over two futex words (N round trips)
 *   thread    pthread_create + pthread_join */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_ok(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "child %d failed (status %#x)\n", pid, st);
        return 0;
    }
    return 1;
}

static int bench_fork(long n) {
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return perror("fork"), 1;
        if (pid == 0)
            _exit(0);
        if (!wait_ok(pid))
            return 1;
    }
    return 0;
}

static int bench_exec(long n) {
    char *argv[] = {"/bin/true", NULL};
    char *envp[] = {NULL};
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return perror("fork"), 1;
        if (pid == 0) {
            execve(argv[0], argv, envp);
            _exit(127);
        }
        if (!wait_ok(pid))
            return 1;
    }
    return 0;
}

static int bench_pipe(long n) {
    int ab[2], ba[2];
    if (pipe(ab) || pipe(ba))
        return perror("pipe"), 1;
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), 1;
    char c = 'x';
    if (pid == 0) {
        for (long i = 0; i < n; i++) {
            if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    for (long i = 0; i < n; i++) {
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
            return perror("pipe ping-pong"), 1;
    }
    return wait_ok(pid) ? 0 : 1;
}

static atomic_int ping, pong;
static long rounds;

static void fwait(atomic_int *w, int val) {
    while (atomic_load(w) == val)
        syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void fwake(atomic_int *w) {
    atomic_fetch_add(w, 1);
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *ponger(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        fwait(&ping, (int)i);
        fwake(&pong);
    }
    return NULL;
}

static int bench_futex(long n) {
    rounds = n;
    pthread_t t;
    if (pthread_create(&t, NULL, ponger, NULL))
        return 1;
    for (long i = 0; i < n; i++) {
        fwake(&ping);
        fwait(&pong, (int)i);
    }
    return pthread_join(t, NULL) ? 1 : 0;
}

static void *nothing(void *arg) { return arg; }

static int bench_thread(long n) {
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: procbench fork|exec|pipe|futex|thread [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 0;
    const char *m = argv[1];
    if (!strcmp(m, "fork"))
        return bench_fork(n);
    if (!strcmp(m, "exec"))
        return bench_exec(n);
    if (!strcmp(m, "pipe"))
        return bench_pipe(n);
    if (!strcmp(m, "futex"))
        return bench_futex(n);
    if (!strcmp(m, "thread"))
        return bench_thread(n);
    fprintf(stderr, "procbench: unknown mode %s\n", m);
    return 2;
}
