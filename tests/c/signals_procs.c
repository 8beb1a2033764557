/* Signals across processes and threads: kill() to a child running a handler and blocked in
 * sigsuspend(), SIGKILL to a child blocked in a pipe read, pthread_kill() running the handler on
 * the target thread, and a process-directed signal taken by sigwait in a thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t handler_tid;
static volatile sig_atomic_t got;

static void on_usr1(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    got = si->si_pid == getppid() ? 1 : 2;
    handler_tid = gettid();
}

static void install(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(sig, &sa, NULL);
}

static pid_t thread_tid;
static int ready_pipe[2];

static void *thread_main(void *arg) {
    (void)arg;
    sigset_t usr2, empty;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigemptyset(&empty);
    /* Blocked until sigsuspend: no lost wake-up between the check and the wait. */
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    thread_tid = gettid();
    if (write(ready_pipe[1], "t", 1) != 1)
        return NULL;
    while (!handler_tid)
        sigsuspend(&empty);
    return NULL;
}

static void *pauser(void *arg) {
    (void)arg;
    if (write(ready_pipe[1], "p", 1) != 1)
        return NULL;
    for (;;)
        pause();
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    char c;

    /* 1. kill() wakes a child in sigsuspend() and runs its handler; si_pid is the parent. */
    if (pipe(p) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        install(SIGUSR1);
        sigset_t usr1, empty;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigemptyset(&empty);
        sigprocmask(SIG_BLOCK, &usr1, NULL);
        if (write(p[1], "r", 1) != 1)
            _exit(1);
        int r = sigsuspend(&empty);
        _exit(r == -1 && errno == EINTR ? 10 + got : 3);
    }
    if (read(p[0], &c, 1) != 1)
        return 1;
    kill(child, SIGUSR1);
    int st;
    waitpid(child, &st, 0);
    printf("sigsuspend child exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));

    /* 2. SIGKILL ends a child blocked in a pipe read. */
    int q[2];
    if (pipe(q) != 0)
        return 1;
    child = fork();
    if (child == 0) {
        if (write(p[1], "r", 1) != 1)
            _exit(1);
        (void)read(q[0], &c, 1);
        _exit(4);
    }
    if (read(p[0], &c, 1) != 1)
        return 1;
    kill(child, SIGKILL);
    waitpid(child, &st, 0);
    printf("killed child signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

    /* 3. pthread_kill runs the handler on the target thread. */
    install(SIGUSR2);
    if (pipe(ready_pipe) != 0)
        return 1;
    pthread_t th;
    pthread_create(&th, NULL, thread_main, NULL);
    if (read(ready_pipe[0], &c, 1) != 1)
        return 1;
    pthread_kill(th, SIGUSR2);
    pthread_join(th, NULL);
    printf("pthread_kill handler_on_thread=%d\n", handler_tid == thread_tid);

    /* 4. a blocked process-directed signal is taken by sigwait. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigprocmask(SIG_BLOCK, &s, NULL);
    kill(getpid(), SIGTERM);
    int sig = 0;
    int r = sigwait(&s, &sig);
    printf("sigwait r=%d sig=%d\n", r, sig);

    /* 5. exit_group ends a thread blocked in pause(). */
    pthread_create(&th, NULL, pauser, NULL);
    if (read(ready_pipe[0], &c, 1) != 1)
        return 1;
    printf("exiting with a paused thread\n");
    return 0;
}
